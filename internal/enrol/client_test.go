package enrol

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientFailsOverOnlyWhenSafe: a request goes to the next replica only
// when central certainly did not act on it (nothing listening, 503);
// anything else — a refusal, a connection cut mid-request — is returned,
// so an enrolment step is never applied twice.
func TestClientFailsOverOnlyWhenSafe(t *testing.T) {
	retryPause = time.Millisecond
	var second atomic.Int32
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		w.Write([]byte(`{"session":"s1","kind":"device"}`))
	}))
	defer good.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	answer := func(f http.HandlerFunc) string {
		s := httptest.NewServer(f)
		t.Cleanup(s.Close)
		return s.URL
	}
	unavailable := answer(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"store down"}}`))
	})
	refusing := answer(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"bad-token","message":"no"}}`))
	})
	cut := answer(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})
	for _, tc := range []struct {
		name     string
		first    string
		failover bool
	}{
		{"nothing listening", deadURL, true},
		{"503", unavailable, true},
		{"refused", refusing, false},
		{"cut mid-request", cut, false},
	} {
		second.Store(0)
		c := &Client{URL: tc.first, Replicas: []string{good.URL}}
		_, err := c.Start(context.Background(), &StartRequest{Token: "t"})
		if tc.failover && (err != nil || second.Load() != 1) {
			t.Errorf("%s: err %v, second replica asked %d times; want it asked once", tc.name, err, second.Load())
		}
		if !tc.failover && (err == nil || second.Load() != 0) {
			t.Errorf("%s: err %v, second replica asked %d times; want the error and no second attempt", tc.name, err, second.Load())
		}
	}
	// Every replica down: the last error, still a *Error when central said why.
	c := &Client{URL: unavailable, Replicas: []string{unavailable}}
	var e *Error
	if _, err := c.Start(context.Background(), &StartRequest{Token: "t"}); !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Errorf("all replicas unavailable: %v", err)
	}
}
