// Package jsonx is the one way edgetrust decodes JSON from outside: request
// bodies, uploaded files, config. It is strict where encoding/json is
// lenient, so that every component reads a document the same way any other
// JSON parser would, or refuses it (docs/decisions/0013-strict-json.md):
//
//   - duplicate object member names are an error (no "last one wins");
//   - invalid UTF-8 is an error (never replaced with U+FFFD);
//   - member names match Go fields exactly (no case folding);
//   - unknown members are an error unless the contract is open;
//   - depth, members per object, elements per array and total values are
//     counted while the tokens stream by, before anything is allocated per
//     element, so a body inside its size limit cannot expand into a heap
//     many times its size.
//
// It is built on github.com/go-json-experiment/json (JSON v2): its
// jsontext tokenizer does the first pass, its Unmarshal the second.
//
// It imports only the standard library and go-json-experiment/json.
package jsonx
