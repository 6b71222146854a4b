// Package httpx is the HTTP plumbing edgetrust's servers share: writing a
// JSON answer with the headers every answer carries (nosniff, no-store),
// answering unrouted requests (404, 405) in the server's own JSON error
// shape, and the token buckets behind rate limits and failed-credential
// throttling. Each server keeps its own documented error shape; this
// package only makes sure they are all written the same way.
//
// It imports only the standard library.
package httpx
