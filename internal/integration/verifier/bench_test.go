package verifierint

import (
	"fmt"
	"image"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/internal/browsertest"
)

// observer runs in the page (injected over DevTools, not part of the page):
// on every camera frame presented it samples the frame's centre, and when a
// QR appears after blank frames it records the frame's presentation time
// (requestVideoFrameCallback, same clock as performance.now()).
const observer = `(() => {
  const v = document.getElementById("video"), c = document.createElement("canvas");
  c.width = 16; c.height = 12;
  const g = c.getContext("2d", {willReadFrequently: true});
  const b = window.__bench = {qr: false, entries: [], frames: 0};
  const cb = (now, meta) => {
    g.drawImage(v, 0, 0, 16, 12);
    const d = g.getImageData(4, 3, 8, 6).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 4) s += d[i];
    const qr = s / (d.length / 4) < 200;
    if (qr && !b.qr) b.entries.push(meta.presentationTime || now);
    b.qr = qr; b.frames++;
    v.requestVideoFrameCallback(cb);
  };
  v.requestVideoFrameCallback(cb);
  performance.setResourceTimingBufferSize(100000);
  return true;
})()`

// latency is the time from the last QR entry before the newest verdict to
// that verdict, or null while there is no new verdict after skip of them.
const latency = `(() => {
  const vs = performance.getEntriesByName("verdict-shown").filter((m) => m.detail && m.detail.kind !== "none");
  if (vs.length <= %d) return null;
  const at = vs[vs.length - 1].startTime, es = window.__bench.entries.filter((e) => e <= at);
  const posts = performance.getEntriesByType("resource").filter((r) => r.name.endsWith("/v1/qr/verify") && r.responseEnd <= at);
  const post = posts.length ? posts[posts.length - 1].duration : -1;
  return es.length ? {ms: at - es[es.length - 1], post, kind: vs[vs.length - 1].detail.kind} : {ms: -1, post, kind: "no QR entry seen"};
})()`

// BenchmarkCameraToVerdict measures, in the page, the time from a camera
// frame with the QR being presented (after a second of blank frames) to the
// verdict shown: the wait for the next frame grab (at most 4 a second),
// JPEG encoding, POST /v1/qr/verify (decode and verify) and rendering. Each
// iteration is one card; run with -benchtime 20x. It reports median and
// p95; it asserts nothing about time.
func BenchmarkCameraToVerdict(b *testing.B) {
	e := setup(b)
	blank, card := qrFrame(b, "", 960, 720), qrFrame(b, e.text["valid"], 960, 720)
	fs := make([]image.Image, 0, 30)
	for i := 0; i < 10; i++ {
		fs = append(fs, blank)
	}
	for i := 0; i < 20; i++ {
		fs = append(fs, card)
	}
	ctx := browsertest.New(b, browsertest.Options{Trust: []*x509Cert{e.cert}, FakeVideo: video(b, 10, fs...), Timeout: 10 * time.Minute})
	open(b, ctx, e.url+"/verify/")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](observer)); err != nil {
		b.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("start"))); err != nil {
		b.Fatal(err)
	}
	type lat struct {
		Ms, Post float64
		Kind     string
	}
	wait := func(n int) lat {
		l, err := chromedp.Run(ctx, chromedp.Poll[lat](fmt.Sprintf(latency, n), chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			b.Fatalf("verdict %d: %v", n+1, err)
		}
		if l.Kind != "valid" || l.Ms < 0 {
			b.Fatalf("verdict %d: %+v", n+1, l)
		}
		return l
	}
	wait(0) // warm-up: the observer may have started after the first QR frame
	var ms, post []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Wait for blank frames, then ask for the next card.
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__bench.qr === false || null`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("again"))); err != nil {
			b.Fatal(err)
		}
		l := wait(i + 1)
		ms, post = append(ms, l.Ms), append(post, l.Post)
	}
	b.StopTimer()
	slices.Sort(ms)
	slices.Sort(post)
	q := func(xs []float64, p float64) float64 { return xs[min(len(xs)-1, int(p*float64(len(xs))))] }
	b.ReportMetric(q(ms, 0.5), "median-ms")
	b.ReportMetric(q(ms, 0.95), "p95-ms")
	b.ReportMetric(ms[0], "min-ms")
	b.ReportMetric(ms[len(ms)-1], "max-ms")
	b.ReportMetric(q(post, 0.5), "post-median-ms")
	b.Logf("camera to verdict over %d cards (ms, sorted): %.0f; the POST that gave the verdict (ms, sorted): %.0f", len(ms), ms, post)
}
