package browsertest

import (
	"bytes"
	"image"
	_ "image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The page reads the fake camera into a canvas and reports the centre
// pixel's colour, so the test sees that frames from the Y4M file arrive.
const cameraPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>camera</title></head>
<body><main><h1>Camera</h1><video id="v" autoplay muted playsinline></video><canvas id="c" width="64" height="48"></canvas>
<p id="out">waiting</p><script src="/cam.js"></script></main></body></html>`

const cameraJS = `navigator.mediaDevices.getUserMedia({video: true}).then(s => {
  const v = document.getElementById("v"); v.srcObject = s;
  const tick = () => {
    if (v.videoWidth) {
      const c = document.getElementById("c").getContext("2d");
      c.drawImage(v, 0, 0, 64, 48);
      const p = c.getImageData(32, 24, 1, 1).data;
      document.getElementById("out").textContent = p[0] > 200 && p[1] < 80 && p[2] < 80 ? "red" : "other " + p[0] + "," + p[1] + "," + p[2];
    }
    requestAnimationFrame(tick);
  };
  tick();
}, e => { document.getElementById("out").textContent = "error " + e.name; });`

const badPage = `<!doctype html><html><head><title>bad</title></head><body><img src="/x.png"><button></button></body></html>`

func TestCameraAxeScreenshot(t *testing.T) {
	dir := t.TempDir()
	red := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(red.Pix); i += 4 {
		copy(red.Pix[i:], []byte{0xff, 0, 0, 0xff})
	}
	var buf bytes.Buffer
	if err := WriteY4M(&buf, 10, red, red); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "YUV4MPEG2 W64 H48 F10:1") || buf.Len() != len("YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg\n")+2*(6+64*48*3/2) {
		t.Fatalf("y4m: %d bytes, header %q", buf.Len(), buf.String()[:40])
	}
	video := filepath.Join(dir, "red.y4m")
	if err := os.WriteFile(video, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cam.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(cameraJS))
		case "/bad":
			w.Write([]byte(badPage))
		default:
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.Write([]byte(cameraPage))
		}
	}))
	defer srv.Close()
	// http://127.0.0.1 is a secure context, so getUserMedia is allowed.
	ctx := New(t, Options{FakeVideo: video})
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const t = document.getElementById("out").textContent; return t === "red" || t.startsWith("error") ? t : null; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		last, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("out").textContent`))
		t.Fatalf("camera: %v (page says %q)", err, last)
	}
	if out != "red" {
		t.Fatalf("camera frame: %q, want red", out)
	}
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := Serious(vs); len(s) > 0 {
		t.Errorf("good page: serious violations %v", s)
	}
	p, err := Screenshot(ctx, dir, "camera", Phone)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := image.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 390 || cfg.Height != 844 {
		t.Fatalf("screenshot %v: %+v", err, cfg)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	vs, err = Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, v := range Serious(vs) {
		found[v.ID] = true
	}
	if !found["image-alt"] || !found["button-name"] {
		t.Fatalf("bad page: axe found %v, want image-alt and button-name among serious", vs)
	}
}

func TestVirtualAuthenticator(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<!doctype html><title>wa</title>`))
	}))
	defer srv.Close()
	ctx := New(t, Options{})
	if err := chromedp.Do(ctx, chromedp.Navigate(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))); err != nil {
		t.Fatal(err)
	}
	id, err := VirtualAuthenticator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A registration made by the page lands in the authenticator.
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.credentials.create({publicKey: {
		challenge: new Uint8Array(32), rp: {name: "t", id: "localhost"},
		user: {id: new Uint8Array([1,2,3]), name: "a", displayName: "a"},
		pubKeyCredParams: [{type: "public-key", alg: -7}],
		authenticatorSelection: {residentKey: "required", userVerification: "required"}}}).then(c => c.type === "public-key")`,
		chromedp.EvalAwaitPromise))
	if err != nil || !ok {
		t.Fatalf("create: %v %v", ok, err)
	}
	creds, err := Credentials(ctx, id)
	if err != nil || len(creds) != 1 || !creds[0].IsResidentCredential {
		t.Fatalf("credentials: %v %+v", err, creds)
	}
	if err := RemoveAuthenticator(ctx, id); err != nil {
		t.Fatal(err)
	}
}
