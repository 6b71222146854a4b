package ctk

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// Stream check parameters: the preview is watched this long before the
// capture starts, and must run at this rate (SBI asks for >= 3 fps).
const (
	streamWatch  = 2 * time.Second
	streamMinFPS = 3.0
	streamMaxRun = 2 * time.Minute
)

// streamStats is what a watched stream delivered.
type streamStats struct {
	mu      sync.Mutex
	times   []time.Time // arrival of each frame
	notJPEG int
	err     error
}

func (s *streamStats) add(t time.Time, jpeg bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.times) < 100000 {
		s.times = append(s.times, t)
	}
	if !jpeg {
		s.notJPEG++
	}
}

// fps is the frame rate over frames that arrived before until.
func (s *streamStats) fps(until time.Time) (int, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []time.Time
	for _, t := range s.times {
		if !t.After(until) {
			ts = append(ts, t)
		}
	}
	if len(ts) < 2 {
		return len(ts), 0
	}
	span := ts[len(ts)-1].Sub(ts[0]).Seconds()
	if span <= 0 {
		return len(ts), 0
	}
	return len(ts), float64(len(ts)-1) / span
}

// runStreaming is MOSIP's "Streaming test with Registration capture": open
// STREAM on the device and sub-id, watch the preview, then RCAPTURE while
// the stream is open. The case's validators judge the capture; StreamCheck
// (edgetrust) judges the preview.
func (cr *caseRun) runStreaming(ctx context.Context) {
	if !cr.humanStep(ctx, "the ctk opens the preview stream first") {
		return
	}
	sc := cr.addOwn(ValStream)
	sreq := sbi.StreamRequest{DeviceID: cr.d.ID(), DeviceSubID: sbi.NumString(cr.c.Attrs.DeviceSubID), Timeout: sbi.NumString(fmt.Sprint(streamMaxRun.Milliseconds()))}
	body, _ := json.Marshal(sreq)
	cl := &client.Client{Host: cr.r.o.Target.Host, PortMin: cr.r.o.Target.Port, PortMax: cr.r.o.Target.Port,
		HTTP: cr.r.o.HTTP, App: "edgetrust-ctk"}
	sctx, cancel := context.WithTimeout(ctx, streamMaxRun)
	defer cancel()
	opened := time.Now()
	fr, err := cl.Stream(sctx, cr.r.o.Target.Port, &sreq)
	rec := report.Exchange{Step: "preview", Method: sbi.MethodStream, URL: cr.r.o.Target.URL + "/stream",
		Request: body, SentAt: opened.UTC()}
	stats := &streamStats{}
	var wg sync.WaitGroup
	if err != nil {
		sc.failures = append(sc.failures, "STREAM was refused: "+oneLine(err.Error(), 200))
		sc.evaluated = true
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer fr.Close()
			for {
				f, err := fr.Next()
				if err != nil {
					if sctx.Err() == nil {
						stats.mu.Lock()
						stats.err = err
						stats.mu.Unlock()
					}
					return
				}
				stats.add(time.Now(), client.IsJPEG(f))
			}
		}()
		select {
		case <-time.After(streamWatch):
		case <-ctx.Done():
		}
	}
	captureAt := time.Now()
	cr.captureOnce(ctx, "capture while streaming", "")
	cancel()
	wg.Wait()
	rec.ReceivedAt = time.Now().UTC()
	rec.ElapsedMS = rec.ReceivedAt.Sub(opened).Milliseconds()
	if err != nil {
		rec.Error = err.Error()
	} else {
		n, fps := stats.fps(captureAt)
		total := len(stats.times)
		summary, _ := json.Marshal(map[string]any{"framesBeforeCapture": n, "framesTotal": total,
			"fpsBeforeCapture": fmt.Sprintf("%.1f", fps), "notJPEG": stats.notJPEG})
		rec.Response = summary
		sc.evaluated = true
		switch {
		case stats.err != nil && total == 0:
			sc.failures = append(sc.failures, "the stream ended without a frame: "+oneLine(stats.err.Error(), 200))
		case n < 2:
			sc.failures = append(sc.failures, fmt.Sprintf("%d frame(s) in the first %v of preview", n, streamWatch))
		case fps < streamMinFPS:
			sc.failures = append(sc.failures, fmt.Sprintf("preview ran at %.1f fps, want at least %.0f", fps, streamMinFPS))
		}
		if stats.notJPEG > 0 {
			sc.failures = append(sc.failures, fmt.Sprintf("%d frame(s) are not JPEG", stats.notJPEG))
		}
		if stats.err != nil && total > 0 {
			cr.note("the stream broke off: " + oneLine(stats.err.Error(), 200))
		}
		sc.passMsg = fmt.Sprintf("%d JPEG frames at %.1f fps before the capture, %d in all; RCAPTURE ran with the stream open", n, fps, total)
	}
	cr.out.Exchanges = append(cr.out.Exchanges, rec)
}
