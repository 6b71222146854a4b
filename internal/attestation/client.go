package attestation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Client speaks the attestation API of one central.
type Client struct {
	// URL is central's base URL.
	URL string
	// HTTP is the client to use; nil: one with a 30 s timeout.
	HTTP *http.Client
}

const maxResponse = 64 << 10

// Error is central's refusal.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("central refused (%d %s): %s", e.Status, e.Code, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, in any) ([]byte, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("attest: central URL %q: want http(s)://host[:port]", c.URL)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	rsp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("attest: reaching central: %w", err)
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("attest: reading central's answer: %w", err)
	}
	if rsp.StatusCode != http.StatusOK {
		var e struct {
			Error *Error `json:"error"`
		}
		if jsonx.Unmarshal(b, &e, jsonx.Limits{MaxBytes: maxResponse, Open: true}) == nil && e.Error != nil {
			e.Error.Status = rsp.StatusCode
			return nil, e.Error
		}
		return nil, fmt.Errorf("attest: central answered %s", rsp.Status)
	}
	return b, nil
}

// Challenge fetches the node's outstanding challenge.
func (c *Client) Challenge(ctx context.Context, n Node) (*Challenge, error) {
	b, err := c.do(ctx, http.MethodGet, PathChallenge+"?kind="+url.QueryEscape(n.Kind)+"&id="+url.QueryEscape(n.ID), nil)
	if err != nil {
		return nil, err
	}
	ch, err := DecodeChallenge(b)
	if err != nil {
		return nil, err
	}
	if ch.Node != n {
		return nil, fmt.Errorf("attest: central sent a challenge for %s, not %s", ch.Node, n)
	}
	return ch, nil
}

// Submit sends evidence and returns central's verdict. A verdict of failed
// is returned with a nil error: it is an answer, not a transport failure.
func (c *Client) Submit(ctx context.Context, e *Evidence) (*Verdict, error) {
	b, err := c.do(ctx, http.MethodPost, PathEvidence, e)
	if err != nil {
		return nil, err
	}
	var v Verdict
	if err := jsonx.Unmarshal(b, &v, jsonx.Limits{MaxBytes: maxResponse, Open: true}); err != nil {
		return nil, fmt.Errorf("attest: central's verdict: %w", err)
	}
	return &v, nil
}

// Round fetches the challenge for n, proves it with p and submits.
func (c *Client) Round(ctx context.Context, p *Prover, n Node) (*Verdict, error) {
	ch, err := c.Challenge(ctx, n)
	if err != nil {
		return nil, err
	}
	e, err := p.Prove(ctx, ch)
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, e)
}
