package ctk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

// The MOSIP CTK does not check a device's answer as sent: its UI first
// decodes every signed or encoded block and adds the result next to it
// (digitalIdDecoded, deviceInfoDecoded, dataDecoded), and the schemas
// describe that decoded view. decodeView builds the same view from a raw
// answer, with every bioValue, sessionKey and signed data block replaced by
// a placeholder of the same emptiness, so the schema sees the shape and
// nothing biometric can reach a message, a log line or a report.

const redacted = "<redacted>"

// decodeView returns the decoded, redacted view of an answer to method.
func decodeView(method string, raw []byte) (any, error) {
	if len(raw) > sbi.MaxResponseSize {
		return nil, sbi.ErrTooLarge
	}
	doc, err := suite.DecodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("answer is not JSON: %v", shortErr(err))
	}
	switch method {
	case suite.MethodDevice:
		forEachObject(doc, func(o map[string]any) {
			if id, ok := o["digitalId"].(string); ok && id != "" && !strings.Contains(id, ".") {
				if d := decodeB64JSON(id); d != nil {
					o["digitalIdDecoded"] = d
				}
			}
		})
	case suite.MethodInfo:
		forEachObject(doc, func(o map[string]any) {
			s, ok := o["deviceInfo"].(string)
			if !ok || s == "" {
				return
			}
			if strings.Count(s, ".") == 2 {
				if d, ok := decodeJWSPayload(s).(map[string]any); ok {
					if id, ok := d["digitalId"].(string); ok && strings.Count(id, ".") == 2 {
						if dd := decodeJWSPayload(id); dd != nil {
							d["digitalIdDecoded"] = dd
						}
					}
					o["deviceInfoDecoded"] = d
				}
			} else if d := decodeB64JSON(s); d != nil {
				o["deviceInfoDecoded"] = d
			}
		})
	case suite.MethodCapture, suite.MethodRCapture:
		obj, ok := doc.(map[string]any)
		if !ok {
			break
		}
		forEachObject(obj["biometrics"], func(e map[string]any) {
			if s, ok := e["data"].(string); ok && s != "" {
				if strings.Count(s, ".") == 2 {
					if d, ok := decodeJWSPayload(s).(map[string]any); ok {
						if id, ok := d["digitalId"].(string); ok && strings.Count(id, ".") == 2 {
							if dd := decodeJWSPayload(id); dd != nil {
								d["digitalIdDecoded"] = dd
							}
						}
						if bv, ok := d["bioValue"].(string); ok && bv != "" {
							d["bioValue"] = fmt.Sprintf("%s %d characters", redacted, len(bv))
						}
						e["dataDecoded"] = d
					}
				}
				e["data"] = fmt.Sprintf("%s signed data block, %d characters; see dataDecoded", redacted, len(s))
			}
			if s, ok := e["sessionKey"].(string); ok && s != "" {
				e["sessionKey"] = redacted
			}
		})
	}
	return doc, nil
}

func forEachObject(v any, f func(map[string]any)) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if o, ok := e.(map[string]any); ok {
				f(o)
			}
		}
	case map[string]any:
		f(t)
	}
}

// decodeJWSPayload returns the decoded JSON payload of a compact JWS, or nil.
func decodeJWSPayload(s string) any {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil
	}
	return decodeB64JSON(parts[1])
}

// decodeB64JSON decodes base64url (padded or not) JSON, or returns nil.
func decodeB64JSON(s string) any {
	if len(s) > sbi.MaxJWSSize {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil
	}
	v, err := suite.DecodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}

// redactRaw returns the redacted view of an answer for a report, or a
// note that it could not be read (never the raw bytes).
func redactRaw(method string, raw []byte) json.RawMessage {
	if raw == nil {
		return nil
	}
	v, err := decodeView(method, raw)
	if err != nil {
		b, _ := json.Marshal(map[string]any{"unreadable": fmt.Sprintf("%d bytes that are not JSON; not shown", len(raw))})
		return b
	}
	return marshalView(compactJWS(v))
}

// compactJWS replaces every compact JWS string in a view (deviceInfo,
// digitalId) by a one-line summary: the decoded payload sits next to it
// already, and the certificates would only bloat the report.
func compactJWS(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			t[k] = compactJWS(c)
		}
	case []any:
		for i, c := range t {
			t[i] = compactJWS(c)
		}
	case string:
		if len(t) > 100 && strings.Count(t, ".") == 2 && !strings.HasPrefix(t, redacted) {
			if j, err := sbi.ParseJWS(t); err == nil {
				return fmt.Sprintf("<JWS %s, signer %q (serial %s), %d certificate(s), %d characters; payload decoded alongside>",
					j.Header.Alg, j.Leaf().Subject.String(), j.Leaf().SerialNumber.Text(16), len(j.Chain), len(t))
			}
		}
	}
	return v
}

func marshalView(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSpace(buf.Bytes())
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
