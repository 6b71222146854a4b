package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/agent/sensors"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/sbi"
)

// MaxBody is the largest request body the agent reads: the largest SBI
// request the sbi package parses (64 KiB), so nothing is read that could
// only be refused afterwards.
const MaxBody = sbi.MaxRequestSize

// Capture and stream time limits: a client may ask for less, never more.
const (
	defaultCaptureTimeout = 10 * time.Second
	maxCaptureTimeout     = 60 * time.Second
	defaultStreamTimeout  = 5 * time.Minute
	maxStreamTimeout      = 10 * time.Minute
	streamFrameInterval   = 200 * time.Millisecond // 5 frames a second; SBI asks for at least 3
)

const corsMethods = "OPTIONS, RCAPTURE, CAPTURE, MOSIPDINFO, MOSIPDISC, STREAM, SBIINFO, SBIDISC, MOSIPINFO"

// Handler is the SBI HTTP interface. Every JSON answer, errors included, is
// status 200 with an SBI error object, as clients expect ([095] §1.3); only
// unknown verbs get 405, in the same shape. There is no route table and so
// no text/plain 404: SBI dispatches on the verb, and a known verb sent to
// the wrong path is answered 200 with error 123 (docs/api/agent.md).
//
// Request bodies are decoded by the sbi package, strictly (internal/jsonx):
// a duplicated member, invalid UTF-8 or a count or depth past the limits is
// refused with error 123 before anything is captured or signed.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveSBI)
}

func (s *Service) serveSBI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	// Every answer, the preflight and the stream included: answers carry
	// signed biometrics and device identities.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "close")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	verb, ok := sbi.CanonicalMethod(r.Method)
	if !ok {
		mRequests.WithLabelValues("unknown", sbi.CodeMalformedRequest).Inc()
		h.Set("Allow", corsMethods) // RFC 9110 §15.5.6
		writeJSON(w, http.StatusMethodNotAllowed, sbi.ErrorList(sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Unknown method " + strconv.Quote(r.Method) + "; SBI uses MOSIPDISC, MOSIPDINFO, CAPTURE, RCAPTURE, STREAM"}))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		s.reject(w, verb, sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Request body too large or unreadable (limit 64 KiB)"})
		return
	}
	want := map[string]string{sbi.MethodDiscover: "/device", sbi.MethodInfo: "/info",
		sbi.MethodCapture: "/capture", sbi.MethodRCapture: "/capture", sbi.MethodStream: "/stream"}[verb]
	if r.URL.Path != want {
		s.reject(w, verb, sbi.Error{Code: sbi.CodeMalformedRequest, Info: verb + " goes to " + want})
		return
	}
	switch verb {
	case sbi.MethodDiscover:
		s.discover(w, body)
	case sbi.MethodInfo:
		s.info(w, body)
	case sbi.MethodCapture, sbi.MethodRCapture:
		s.capture(r.Context(), w, verb, body)
	case sbi.MethodStream:
		s.stream(r.Context(), w, body)
	}
}

// reject answers a request that failed before it reached a device.
func (s *Service) reject(w http.ResponseWriter, verb string, e sbi.Error) {
	mRequests.WithLabelValues(verb, string(e.Code)).Inc()
	switch verb {
	case sbi.MethodCapture:
		writeJSON(w, http.StatusOK, sbi.ErrorCapture(sbi.PurposeAuth, "", e))
	case sbi.MethodRCapture:
		writeJSON(w, http.StatusOK, sbi.ErrorCapture(sbi.PurposeRegistration, "", e))
	case sbi.MethodStream:
		writeJSON(w, http.StatusOK, map[string]sbi.Error{"error": e})
	default:
		writeJSON(w, http.StatusOK, sbi.ErrorList(e))
	}
}

// writeJSON is httpx's JSON answer with the framing the SBI spec shows: a
// Content-Length (answers are built whole, then sent) rather than chunks.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`[{"error":{"errorCode":"999","errorInfo":"Internal error"}}]`)
	}
	httpx.Header(w)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Service) discover(w http.ResponseWriter, body []byte) {
	req, err := sbi.ParseDiscoverRequest(body)
	if err != nil {
		s.reject(w, sbi.MethodDiscover, sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Invalid discovery request: want {\"type\": \"Biometric Device\"|\"Finger\"|\"Iris\"|\"Face\"}"})
		return
	}
	if req.Type != sbi.TypeAny && !sbi.ValidType(req.Type) {
		s.reject(w, sbi.MethodDiscover, sbi.NewError(sbi.CodeInvalidType))
		return
	}
	out := []sbi.Discovery{}
	for _, d := range s.devices {
		if !req.Matches(d.cfg.Type) {
			continue
		}
		disc, err := d.discovery()
		if err != nil {
			s.log.Error("building discovery answer", "device", d.cfg.ID, "err", err)
			s.reject(w, sbi.MethodDiscover, sbi.NewError(sbi.CodeUnknown))
			return
		}
		out = append(out, disc)
	}
	mRequests.WithLabelValues(sbi.MethodDiscover, sbi.CodeSuccess).Inc()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) info(w http.ResponseWriter, body []byte) {
	req, err := sbi.ParseInfoRequest(body)
	if err != nil {
		s.reject(w, sbi.MethodInfo, sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Invalid info request"})
		return
	}
	out := []sbi.InfoEntry{}
	for _, d := range s.devices {
		if req.Type != "" && req.Type != sbi.TypeAny && req.Type != d.cfg.Type {
			continue
		}
		e, err := d.info()
		if err != nil {
			s.log.Error("building device info", "device", d.cfg.ID, "err", err)
			s.reject(w, sbi.MethodInfo, sbi.NewError(sbi.CodeUnknown))
			return
		}
		out = append(out, e)
	}
	mRequests.WithLabelValues(sbi.MethodInfo, sbi.CodeSuccess).Inc()
	writeJSON(w, http.StatusOK, out)
}

// unregisteredBuilder answers for a device without certificates: unsigned
// digital ID, empty deviceId/deviceCode/purpose, env None.
func (d *Device) unregisteredBuilder(c *Config, port int) *sbi.Builder {
	return &sbi.Builder{Device: sbi.Device{
		Certification: d.cfg.Certification, ServiceVersion: ServiceVersion, Firmware: d.cfg.Model,
		Env: sbi.EnvNone, SubIDs: subIDs(d.cfg.Type, d.cfg.SubType), Port: port,
		DigitalID: sbi.DigitalID{SerialNo: d.cfg.ID, Make: d.cfg.Make, Model: d.cfg.Model, Type: d.cfg.Type,
			DeviceSubType: d.cfg.SubType, DeviceProvider: c.Provider, DeviceProviderID: c.ProviderID},
	}, Now: d.now}
}

func (d *Device) discovery() (sbi.Discovery, error) {
	d.mu.Lock()
	b, st := d.builder, d.statusLocked()
	d.mu.Unlock()
	if st == sbi.StatusNotRegistered || b == nil {
		return d.unregistered.Discovery(sbi.StatusNotRegistered)
	}
	return b.Discovery(st)
}

func (d *Device) info() (sbi.InfoEntry, error) {
	d.mu.Lock()
	b, st := d.builder, d.statusLocked()
	d.mu.Unlock()
	if st == sbi.StatusNotRegistered || b == nil {
		return d.unregistered.Info(sbi.StatusNotRegistered)
	}
	return b.Info(st)
}

// findDevice picks the device a capture or stream is for: by deviceId, or,
// when the client sent none, the only device of that type and purpose.
func (s *Service) findDevice(id, typ, purpose string) (*Device, sbi.Error) {
	if id != "" {
		if d := s.Device(id); d != nil {
			return d, sbi.Success
		}
		return nil, sbi.NewError(sbi.CodeDeviceNotFound)
	}
	var found *Device
	for _, d := range s.devices {
		if d.cfg.Type == typ && (purpose == "" || d.cfg.Purpose == purpose) {
			if found != nil {
				return nil, sbi.Error{Code: sbi.CodeDeviceNotFound, Info: "Several devices match: send deviceId"}
			}
			found = d
		}
	}
	if found == nil {
		return nil, sbi.NewError(sbi.CodeDeviceNotFound)
	}
	return found, sbi.Success
}

func (s *Service) capture(ctx context.Context, w http.ResponseWriter, verb string, body []byte) {
	purpose := sbi.PurposeAuth
	if verb == sbi.MethodRCapture {
		purpose = sbi.PurposeRegistration
	}
	req, err := sbi.ParseCaptureRequest(body)
	if err != nil {
		s.reject(w, verb, sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Invalid capture request: " + err.Error()})
		return
	}
	// release ends the device's Busy state; it runs before the answer is
	// written, so a client's next request never finds the device still busy.
	release := func() {}
	fail := func(e sbi.Error) {
		release()
		mRequests.WithLabelValues(verb, string(e.Code)).Inc()
		writeJSON(w, http.StatusOK, sbi.ErrorCapture(purpose, req.SpecVersion, e))
	}
	if len(req.Bio) == 0 {
		fail(sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Request has no bio element"})
		return
	}
	d, e := s.findDevice(req.Bio[0].DeviceID, req.Bio[0].Type, purpose)
	if !e.OK() {
		fail(e)
		return
	}
	if d.cfg.Purpose != purpose {
		code := sbi.NumString(sbi.CodeCaptureNotAllowed)
		if verb == sbi.MethodRCapture {
			code = sbi.CodePurposeMismatch
		}
		fail(sbi.Error{Code: code, Info: verb + " is not allowed on a " + d.cfg.Purpose + " device"})
		return
	}
	if e := sbi.ValidateCaptureRequest(purpose, req); !e.OK() {
		fail(e)
		return
	}
	// Fields every MOSIP client sends: a request without them is malformed
	// (often a misspelt key), not an invitation to guess.
	missing := ""
	switch {
	case req.Timeout == "":
		missing = "timeout"
	case req.SpecVersion == "":
		missing = "specVersion"
	}
	for _, b := range req.Bio {
		if missing == "" && b.DeviceSubID == "" && purpose == sbi.PurposeRegistration {
			missing = "bio[].deviceSubId"
		}
	}
	if missing != "" {
		fail(sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Missing " + missing})
		return
	}
	if req.Env != s.cfg.Env {
		fail(sbi.Error{Code: sbi.CodeEnvMismatch, Info: "Device is registered for env " + s.cfg.Env})
		return
	}
	for _, b := range req.Bio {
		if b.Type != d.cfg.Type || (b.DeviceID != "" && b.DeviceID != d.cfg.ID) {
			fail(sbi.NewError(sbi.CodeTypeMismatch))
			return
		}
		if id, _ := b.DeviceSubID.Int(); !containsInt(subIDs(d.cfg.Type, d.cfg.SubType), id) {
			fail(sbi.Error{Code: sbi.CodeDeviceMismatch, Info: "deviceSubId not supported by this device"})
			return
		}
	}
	var enc = s.enc["*"]
	if purpose == sbi.PurposeAuth {
		if c, ok := s.enc[req.DomainURI]; ok {
			enc = c
		}
		if enc == nil {
			fail(sbi.Error{Code: sbi.CodeDomainKeyMissing, Info: "No encryption certificate for this domainUri"})
			return
		}
	}
	b, e := d.begin()
	if !e.OK() {
		fail(e)
		return
	}
	release = sync.OnceFunc(d.end)
	defer release()
	timeout := defaultCaptureTimeout
	if ms, err := req.Timeout.Int(); err == nil && ms > 0 {
		timeout = min(time.Duration(ms)*time.Millisecond, maxCaptureTimeout)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var segs []sbi.Segment
	for _, bio := range req.Bio {
		score, _ := bio.RequestedScore.Float()
		got, err := d.sensor.Capture(cctx, sensors.Spec{
			Purpose: purpose, SubTypes: sbi.Segments(purpose, &bio), RequestedScore: score, Exceptions: bio.Exception,
		})
		if err != nil {
			if errors.Is(err, sensors.ErrNoBiometric) {
				fail(sbi.NewError(sbi.CodeNoBiometric))
			} else {
				s.log.Error("capture failed", "device", d.cfg.ID, "err", err)
				fail(sbi.NewError(sbi.CodeExtraction))
			}
			return
		}
		segs = append(segs, got...)
	}
	resp, err := b.Capture(req, segs, enc)
	if err != nil {
		s.log.Error("signing capture", "device", d.cfg.ID, "err", err)
		fail(sbi.NewError(sbi.CodeUnknown))
		return
	}
	release()
	mCaptureSeconds.WithLabelValues(purpose).Observe(time.Since(start).Seconds())
	mRequests.WithLabelValues(verb, sbi.CodeSuccess).Inc()
	s.log.Info("capture", "device", d.cfg.ID, "purpose", purpose, "segments", len(segs), "ms", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusOK, resp)
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Service) stream(ctx context.Context, w http.ResponseWriter, body []byte) {
	req, err := sbi.ParseStreamRequest(body)
	if err != nil {
		s.reject(w, sbi.MethodStream, sbi.Error{Code: sbi.CodeMalformedRequest, Info: "Invalid stream request"})
		return
	}
	id := req.DeviceID
	if id == "" {
		id = req.SerialNo
	}
	d, e := s.findDevice(id, req.Type, sbi.PurposeRegistration)
	if !e.OK() {
		s.reject(w, sbi.MethodStream, e)
		return
	}
	if d.cfg.Purpose != sbi.PurposeRegistration {
		s.reject(w, sbi.MethodStream, sbi.NewError(sbi.CodeStreamNotAllowed))
		return
	}
	if sub, err := req.DeviceSubID.Int(); err != nil || !containsInt(subIDs(d.cfg.Type, d.cfg.SubType), sub) {
		s.reject(w, sbi.MethodStream, sbi.Error{Code: sbi.CodeDeviceMismatch, Info: "deviceSubId not supported by this device"})
		return
	}
	d.mu.Lock()
	st := d.status
	if st == sbi.StatusReady && d.builder != nil {
		d.streams++
	}
	d.mu.Unlock()
	switch st {
	case sbi.StatusNotRegistered:
		s.reject(w, sbi.MethodStream, sbi.NewError(sbi.CodeNotRegistered))
		return
	case sbi.StatusNotReady:
		s.reject(w, sbi.MethodStream, sbi.NewError(sbi.CodeNotReady))
		return
	}
	defer func() { d.mu.Lock(); d.streams--; d.mu.Unlock() }()

	timeout := defaultStreamTimeout
	if ms, err := req.Timeout.Int(); err == nil && ms > 0 {
		timeout = min(time.Duration(ms)*time.Millisecond, maxStreamTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mw := multipart.NewWriter(w)
	mw.SetBoundary("BoundaryString")
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=BoundaryString")
	w.WriteHeader(http.StatusOK)
	mRequests.WithLabelValues(sbi.MethodStream, sbi.CodeSuccess).Inc()
	flusher, _ := w.(http.Flusher)
	tick := time.NewTicker(streamFrameInterval)
	defer tick.Stop()
	for {
		frame, err := d.sensor.Frame(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("stream frame failed", "device", d.cfg.ID, "err", err)
			}
			return
		}
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Access-Control-Allow-Origin": {"*"},
			"Content-Type":                {"image/jpeg"},
			"Content-Length":              {strconv.Itoa(len(frame))},
		})
		if err != nil {
			return
		}
		if _, err := part.Write(frame); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
