package feeds

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/httpx"
)

// gzip writers are reused: a fresh one allocates ≈ 800 KiB of tables.
var gzPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}}

// WriteBatch writes a batch as the JSON answer of GET /v1/feeds/{name}:
// gzip-compressed (Content-Encoding: gzip) when the request's
// Accept-Encoding lists gzip and the JSON is at least feed.GzipMin bytes,
// plain otherwise. It returns the bytes written on the wire.
func WriteBatch(w http.ResponseWriter, r *http.Request, b *feed.Batch) int {
	gz := feed.AcceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		if z, ok := cachedGzip(b); ok {
			return writeBody(w, z, "gzip")
		}
	}
	var js bytes.Buffer
	// The status is not sent yet: a batch that does not encode is a 500.
	if err := json.NewEncoder(&js).Encode(b); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return 0
	}
	if body := js.Bytes(); len(body) >= feed.GzipMin && gz {
		return writeBody(w, gzipBatch(b, body), "gzip")
	}
	return writeBody(w, js.Bytes(), "")
}

func writeBody(w http.ResponseWriter, body []byte, encoding string) int {
	httpx.Header(w)
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(body) // a write error is a broken connection the client sees
	return n
}

// Compressed trust-feed batches are kept for the followers that ask for
// the same batch (woken long polls, appliances catching up together): a
// batch is named by its feed, start and checkpoint signature, which commits
// to its entries. Records-feed batches are sealed to one appliance: not kept.
var (
	gzMu    sync.Mutex
	gzCache = map[string][]byte{}
)

const gzCacheMax = 32

func gzKey(b *feed.Batch) string {
	if !served[b.Feed] {
		return ""
	}
	return b.Feed + "\x00" + strconv.FormatUint(b.After, 10) + "\x00" + string(b.Checkpoint.Signature)
}

func cachedGzip(b *feed.Batch) ([]byte, bool) {
	key := gzKey(b)
	if key == "" {
		return nil, false
	}
	gzMu.Lock()
	defer gzMu.Unlock()
	z, ok := gzCache[key]
	return z, ok
}

func gzipBatch(b *feed.Batch, js []byte) []byte {
	key := gzKey(b)
	var z bytes.Buffer
	z.Grow(len(js) / 4)
	zw := gzPool.Get().(*gzip.Writer)
	zw.Reset(&z)
	_, err := zw.Write(js)
	if err == nil {
		err = zw.Close()
	}
	gzPool.Put(zw)
	if err != nil { // writing to memory cannot fail
		panic(err)
	}
	if key != "" {
		gzMu.Lock()
		if len(gzCache) >= gzCacheMax {
			clear(gzCache)
		}
		gzCache[key] = z.Bytes()
		gzMu.Unlock()
	}
	return z.Bytes()
}
