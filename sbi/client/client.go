package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
)

// DefaultProbeTimeout bounds a whole discovery scan.
const DefaultProbeTimeout = 1500 * time.Millisecond

// Client is an SBI client. The zero value probes 127.0.0.1:4501-4600.
type Client struct {
	HTTP         *http.Client  // default: no keep-alive, no overall timeout (use contexts)
	Host         string        // default 127.0.0.1
	PortMin      int           // default sbi.PortMin
	PortMax      int           // default sbi.PortMax
	ProbeTimeout time.Duration // bound on a whole Discover call; default DefaultProbeTimeout
	App          string        // sent in the EXT header
}

// Found is one port that answered discovery with a non-empty array. An
// element may be an error entry ([{"error":...}]); check Error.OK().
type Found struct {
	Port    int
	Devices []sbi.Discovery
	Raw     []byte // the answer as received, for schema checks
}

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:               nil, // never route loopback device traffic through a proxy
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	DisableKeepAlives:   true,
	MaxIdleConnsPerHost: -1,
}}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) host() string {
	if c.Host != "" {
		return c.Host
	}
	return "127.0.0.1"
}

func (c *Client) url(port int, path string) string {
	return "http://" + net.JoinHostPort(c.host(), strconv.Itoa(port)) + "/" + path
}

// ErrStatus is returned for a non-200 HTTP answer.
var ErrStatus = errors.New("sbi client: unexpected HTTP status")

// do sends one request and reads at most limit bytes of the answer.
func (c *Client) do(ctx context.Context, method string, port int, path string, body any, limit int64) ([]byte, error) {
	resp, err := c.send(ctx, method, port, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %d", ErrStatus, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, sbi.ErrTooLarge
	}
	return b, nil
}

func (c *Client) send(ctx context.Context, method string, port int, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(port, path), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.App != "" {
		req.Header.Set("EXT", c.App)
	}
	return c.http().Do(req)
}

// Discover sends MOSIPDISC for typ (sbi.TypeAny for all) to every port in
// the range at once and returns the ports that answered with devices,
// sorted by port. Ports that refuse, time out or answer garbage are
// skipped. The call returns within ProbeTimeout, or earlier if ctx ends.
func (c *Client) Discover(ctx context.Context, typ string) ([]Found, error) {
	lo, hi := c.PortMin, c.PortMax
	if lo == 0 {
		lo = sbi.PortMin
	}
	if hi == 0 {
		hi = sbi.PortMax
	}
	if hi < lo || hi-lo > 1000 {
		return nil, errors.New("sbi client: bad port range")
	}
	timeout := c.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu    sync.Mutex
		found []Found
		wg    sync.WaitGroup
	)
	req := sbi.DiscoverRequest{Type: typ}
	for port := lo; port <= hi; port++ {
		wg.Add(1)
		go func(port int) {
			defer wg.Done()
			raw, err := c.do(ctx, sbi.MethodDiscover, port, "device", req, sbi.MaxResponseSize)
			if err != nil {
				return
			}
			devs, err := sbi.ParseDiscoverResponse(raw)
			if err != nil || len(devs) == 0 {
				return
			}
			mu.Lock()
			found = append(found, Found{Port: port, Devices: devs, Raw: raw})
			mu.Unlock()
		}(port)
	}
	wg.Wait()
	sort.Slice(found, func(i, j int) bool { return found[i].Port < found[j].Port })
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return found, err
	}
	return found, nil
}

// Info sends MOSIPDINFO (no body, as [095] clients do) to port.
func (c *Client) Info(ctx context.Context, port int) ([]sbi.InfoEntry, []byte, error) {
	raw, err := c.do(ctx, sbi.MethodInfo, port, "info", nil, sbi.MaxResponseSize)
	if err != nil {
		return nil, nil, err
	}
	list, err := sbi.ParseInfoResponse(raw)
	return list, raw, err
}

// Capture sends CAPTURE. The context should allow for req.Timeout.
func (c *Client) Capture(ctx context.Context, port int, req *sbi.CaptureRequest) (*sbi.CaptureResponse, []byte, error) {
	return c.capture(ctx, sbi.MethodCapture, port, req)
}

// RCapture sends RCAPTURE.
func (c *Client) RCapture(ctx context.Context, port int, req *sbi.CaptureRequest) (*sbi.CaptureResponse, []byte, error) {
	return c.capture(ctx, sbi.MethodRCapture, port, req)
}

func (c *Client) capture(ctx context.Context, method string, port int, req *sbi.CaptureRequest) (*sbi.CaptureResponse, []byte, error) {
	raw, err := c.do(ctx, method, port, "capture", req, sbi.MaxResponseSize)
	if err != nil {
		return nil, nil, err
	}
	resp, err := sbi.ParseCaptureResponse(raw)
	return resp, raw, err
}

// Stream sends STREAM and returns a reader of JPEG frames. A JSON answer
// (the device refused) is returned as an sbi.Error. Close the stream when
// done; cancelling ctx also ends it.
func (c *Client) Stream(ctx context.Context, port int, req *sbi.StreamRequest) (*FrameReader, error) {
	resp, err := c.send(ctx, sbi.MethodStream, port, "stream", req)
	if err != nil {
		return nil, err
	}
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "multipart/") {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, sbi.MaxRequestSize))
		if se, err := sbi.ParseStreamError(b); err == nil && se.Err().Code != "" {
			return nil, se.Err()
		}
		return nil, fmt.Errorf("%w: %d %s", ErrStatus, resp.StatusCode, ct)
	}
	return NewFrameReader(resp.Body), nil
}
