package verifierint

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/edgetrust/edgetrust/claim169/qr"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/browsertest"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// The people central issues credentials to.
const (
	validID, validName     = "3918592438", "Janardhan BS"
	revokedID, revokedName = "5550001", "Asha Rao"
	expiredID, expiredName = "7770002", "Meera Nair"
	issuerURI              = "https://id.example.org"
)

// env is an appliance serving /verify/ with central's lists, and the QR
// texts and PNGs central issued.
type env struct {
	url   string
	cert  *x509.Certificate
	pool  *x509.CertPool
	dir   string
	text  map[string]string // case name: QR text
	png   map[string]string // case name: QR PNG written by the issuer
	app   *appliance.Appliance
	shots string // where screenshots go (the test's temp dir)
}

// setup issues the credentials as central does (issuer key, JSONL batch,
// revocation, trust export signed by central's feed key) and starts an
// appliance with --qr-trust/--qr-revocations over TLS.
func setup(t testing.TB) *env {
	t.Helper()
	root := t.TempDir()
	now := time.Now()
	pass := []byte("verifier test passphrase 0123456789")
	state := filepath.Join(root, "central")
	idir := filepath.Join(state, "issuer")
	// The key was made two years ago, so the expired credential was signed
	// while it was valid.
	if _, err := issuer.Init(idir, "EdDSA", issuerURI, pass, 5*365*24*time.Hour, now.AddDate(-2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	k, err := issuer.Load(idir, pass)
	if err != nil {
		t.Fatal(err)
	}
	is, err := claim169.NewIssuer(k.Signer, &claim169.IssuerOptions{KeyID: k.KIDBytes()})
	if err != nil {
		t.Fatal(err)
	}
	photo := base64.StdEncoding.EncodeToString(facePhoto(t))
	past := func(d int) int64 { return now.AddDate(0, 0, -d).Unix() }
	var batch bytes.Buffer
	for _, r := range []map[string]any{
		{"claim169": map[string]any{"id": validID, "fullName": validName, "dateOfBirth": "19840401", "gender": 1, "photo": photo, "photoFormat": 1}},
		{"claim169": map[string]any{"id": revokedID, "fullName": revokedName, "dateOfBirth": "19900101", "gender": 2}},
		{"claim169": map[string]any{"id": expiredID, "fullName": expiredName, "dateOfBirth": "19751224", "gender": 2}, "issuedAt": past(400), "expiresAt": past(30)},
	} {
		b, _ := json.Marshal(r)
		batch.Write(append(b, '\n'))
	}
	out := filepath.Join(root, "qr")
	if _, err := issuer.Issue(context.Background(), is, &batch, "jsonl", issuer.Options{OutDir: out, PNG: true, Issuer: k.Issuer, Validity: 5 * 365 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	e := &env{dir: root, text: map[string]string{}, png: map[string]string{}, shots: t.TempDir()}
	for name, id := range map[string]string{"valid": validID, "revoked": revokedID, "expired": expiredID} {
		m, _ := filepath.Glob(filepath.Join(out, "*-"+id+".txt"))
		if len(m) != 1 {
			t.Fatalf("issued %s: %v", id, m)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		e.text[name] = strings.TrimSpace(string(b))
		e.png[name] = strings.TrimSuffix(m[0], ".txt") + ".png"
	}
	e.text["tampered"] = tamper(t, e.text["valid"], validName, "Janardhan BZ")
	// An issuer the appliance does not trust, with the same iss.
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other, err := claim169.NewIssuer(otherKey, &claim169.IssuerOptions{KeyID: []byte("rogue-01")})
	if err != nil {
		t.Fatal(err)
	}
	if e.text["unknown-issuer"], err = other.Issue(&claim169.Claims{Issuer: issuerURI, IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0),
		Identity: claim169.Identity{ID: "9990003", FullName: "Ravi Kumar"}}); err != nil {
		t.Fatal(err)
	}

	// trust export: the lists, signed by central's feed key.
	kr, err := central.InitKeyring(state, pass, now)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := issuer.PublicKey(idir)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := issuer.TrustList(kr.FeedSigner(), []issuer.Meta{k.Meta}, []crypto.PublicKey{pub}, nil, 7*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := issuer.RevocationList(kr.FeedSigner(), []trust.Revocation{{ID: revokedID, Reason: "lost card"}}, 7*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	feedPEM, err := central.FeedKeyPEM(kr.FeedSigner().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	lists := filepath.Join(root, "lists")
	os.MkdirAll(lists, 0o755)
	for name, b := range map[string][]byte{"trust-list.json": tl, "revocation-list.json": rl, "feed.pem": feedPEM} {
		if err := os.WriteFile(filepath.Join(lists, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tcfg, cert := selfSigned(t)
	e.cert = cert
	e.pool = x509.NewCertPool()
	e.pool.AddCert(cert)
	a, err := appliance.Start(context.Background(), appliance.Config{State: filepath.Join(root, "appliance"), Listen: "127.0.0.1:0",
		FeedKeys: []string{filepath.Join(lists, "feed.pem")}, QRTrustList: filepath.Join(lists, "trust-list.json"),
		QRRevocations: filepath.Join(lists, "revocation-list.json")}, appliance.Options{TLS: tcfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.app, e.url = a, a.URL()
	if !strings.HasPrefix(e.url, "https://") {
		t.Fatalf("appliance URL %s is not HTTPS", e.url)
	}
	return e
}

// tamper changes from to to inside the signed payload and re-encodes it, as
// a forger editing a name would: decoding still works, the signature fails.
func tamper(t testing.TB, text, from, to string) string {
	t.Helper()
	z, err := base45.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(from)) || len(from) != len(to) {
		t.Fatalf("tamper: %q not in the payload", from)
	}
	raw = bytes.Replace(raw, []byte(from), []byte(to), 1)
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return base45.EncodeToString(buf.Bytes())
}

// facePhoto is a small synthetic portrait (an oval on a plain background),
// made here: no real person's photo is used.
func facePhoto(t testing.TB) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 36, 44))
	for y := 0; y < 44; y++ {
		for x := 0; x < 36; x++ {
			dx, dy := float64(x-18)/12, float64(y-20)/16
			v := uint8(225)
			if dx*dx+dy*dy < 1 {
				v = uint8(110 + 3*y/2)
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 40}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// selfSigned is the appliance's TLS certificate for 127.0.0.1, as an
// appliance not yet enrolled with central makes for itself.
func selfSigned(t testing.TB) (*tls.Config, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "appliance test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}, cert
}

// qrFrame is a w×h camera frame with the QR of text in its middle, filling
// about 70% of the shorter side; text "" is a blank frame.
func qrFrame(t testing.TB, text string, w, h int) image.Image {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xf4 // a light card, not pure white
	}
	if text == "" {
		return img
	}
	c, err := qr.New(text)
	if err != nil {
		t.Fatal(err)
	}
	bm := c.Bitmap()
	n := len(bm) + 8 // quiet zone
	scale := min(w, h) * 7 / 10 / n
	if scale < 2 {
		t.Fatalf("QR of %d modules does not fit %dx%d at 2 px a module", n, w, h)
	}
	ox, oy := (w-n*scale)/2, (h-n*scale)/2
	for y := 0; y < n*scale; y++ {
		for x := 0; x < n*scale; x++ {
			my, mx := y/scale-4, x/scale-4
			v := uint8(0xff)
			if my >= 0 && mx >= 0 && my < len(bm) && mx < len(bm) && bm[my][mx] {
				v = 0x10
			}
			img.Pix[(oy+y)*img.Stride+ox+x] = v
		}
	}
	return img
}

// video writes a Y4M of the frames for Chromium's fake camera.
func video(t testing.TB, fps int, frames ...image.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "camera.y4m")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WriteY4M(f, fps, frames...); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// verdict is what the page shows.
type verdict struct {
	Kind, Title, Detail, Tech, Name, ID, Issuer, Expires string
	Card, Photo                                          bool
}

const readVerdict = `(() => {
  const $ = (id) => document.getElementById(id), v = $("verdict");
  if (!["valid", "invalid", "warn", "error"].includes(v.dataset.verdict)) return null;
  return {Kind: v.dataset.verdict, Title: $("verdict-title").textContent, Detail: $("verdict-detail").textContent,
    Tech: $("verdict-tech").textContent, Name: $("f-name").textContent, ID: $("f-id").textContent,
    Issuer: $("f-issuer").textContent, Expires: $("f-expires").textContent,
    Card: !$("card").hidden, Photo: !$("photo").hidden && $("photo").naturalWidth > 0};
})()`

// open loads the page and waits for its script to be ready.
func open(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.documentElement.dataset.ready === "1" || null`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("page script did not start: %v", err)
	}
}

// waitVerdict waits for a verdict on the page.
func waitVerdict(t testing.TB, ctx context.Context) verdict {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[verdict](readVerdict, chromedp.WithPollingTimeout(45*time.Second)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("camera-state").textContent + " / " + document.getElementById("verdict").textContent`))
		t.Fatalf("no verdict shown: %v (page: %q)", err, state)
	}
	return v
}

func (v verdict) String() string {
	return fmt.Sprintf("%s %q %q (%s) name %q", v.Kind, v.Title, v.Detail, v.Tech, v.Name)
}

type x509Cert = x509.Certificate

func tlsClient(e *env) *tls.Config { return &tls.Config{RootCAs: e.pool, MinVersion: tls.VersionTLS12} }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
