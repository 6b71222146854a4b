// Command facecrops cuts one portrait per face out of face-api's sample
// photos (internal/biometric/face/testdata/images) for the agent's emulated
// face sensor (agent/sensors/samples/faces): each crop is a 3:4 box around
// the detected face (slid into the photo at its edges), resized to 240 × 320, kept only if the detector finds
// exactly that one face in it, then a subset whose descriptors are pairwise
// at least -min apart is written as JPEG (quality 92), with its distances
// printed. Run from the repository root:
//
//	go run ./scripts/facecrops -out agent/sensors/samples/faces
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log"
	"os"
	"path/filepath"
	"sort"

	"github.com/edgetrust/edgetrust/internal/biometric/face"
)

func main() {
	in := flag.String("in", "internal/biometric/face/testdata/images", "face-api's sample photos")
	out := flag.String("out", "agent/sensors/samples/faces", "output directory")
	minDist := flag.Float64("min", 0.6, "smallest descriptor distance between two kept identities")
	flag.Parse()
	m, err := face.Default()
	if err != nil {
		log.Fatal(err)
	}
	type crop struct {
		img  *image.RGBA
		desc face.Descriptor
		name string
	}
	var crops []crop
	names, _ := filepath.Glob(filepath.Join(*in, "sample*.jpg"))
	sort.Strings(names)
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			log.Fatal(err)
		}
		src, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			log.Fatal(err)
		}
		dets, err := m.Detect(src)
		if err != nil {
			log.Fatal(err)
		}
		for i, d := range dets {
			cx, cy := d.Box.X+d.Box.W/2, d.Box.Y+d.Box.H/2
			w := 1.7 * max(d.Box.W, d.Box.H)
			h := w * 4 / 3
			r := image.Rect(int(cx-w/2), int(cy-h/2+0.05*h), int(cx+w/2), int(cy+h/2+0.05*h))
			b := src.Bounds()
			if r.Dx() <= b.Dx() && r.Dy() <= b.Dy() { // slide the box into the photo
				r = r.Add(image.Pt(max(0, b.Min.X-r.Min.X)-max(0, r.Max.X-b.Max.X), max(0, b.Min.Y-r.Min.Y)-max(0, r.Max.Y-b.Max.Y)))
			}
			if !r.In(b) {
				log.Printf("%s face %d: crop leaves the photo; skipped", filepath.Base(name), i)
				continue
			}
			c := resize(src, r, 240, 320)
			desc, _, err := m.Descriptor(c)
			if err != nil {
				log.Printf("%s face %d: %v; skipped", filepath.Base(name), i, err)
				continue
			}
			crops = append(crops, crop{c, desc, fmt.Sprintf("%s#%d", filepath.Base(name), i)})
		}
	}
	var kept []crop
	for _, c := range crops {
		ok := true
		for _, k := range kept {
			if float64(face.Distance(c.desc, k.desc)) < *minDist {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	closest := 10.0
	for i, c := range kept {
		for _, k := range kept[:i] {
			closest = min(closest, float64(face.Distance(c.desc, k.desc)))
		}
		f, err := os.Create(filepath.Join(*out, fmt.Sprintf("face_%02d.jpg", i)))
		if err != nil {
			log.Fatal(err)
		}
		if err := jpeg.Encode(f, c.img, &jpeg.Options{Quality: 92}); err != nil {
			log.Fatal(err)
		}
		f.Close()
		fmt.Printf("face_%02d.jpg\t%s\n", i, c.name)
	}
	fmt.Printf("%d of %d crops kept; closest pair %.3f\n", len(kept), len(crops), closest)
}

// resize samples r of src bilinearly to w × h.
func resize(src image.Image, r image.Rectangle, w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sx, sy := float64(r.Dx())/float64(w), float64(r.Dy())/float64(h)
	at := func(x, y int) color.RGBA {
		x = min(max(x, r.Min.X), r.Max.X-1)
		y = min(max(y, r.Min.Y), r.Max.Y-1)
		return color.RGBAModel.Convert(src.At(x, y)).(color.RGBA)
	}
	for y := 0; y < h; y++ {
		fy := float64(r.Min.Y) + (float64(y)+0.5)*sy - 0.5
		y0 := int(fy)
		ay := fy - float64(y0)
		for x := 0; x < w; x++ {
			fx := float64(r.Min.X) + (float64(x)+0.5)*sx - 0.5
			x0 := int(fx)
			ax := fx - float64(x0)
			a, b, c, d := at(x0, y0), at(x0+1, y0), at(x0, y0+1), at(x0+1, y0+1)
			mix := func(p, q, s, t uint8) uint8 {
				top := float64(p) + (float64(q)-float64(p))*ax
				bot := float64(s) + (float64(t)-float64(s))*ax
				return uint8(top + (bot-top)*ay + 0.5)
			}
			out.SetRGBA(x, y, color.RGBA{mix(a.R, b.R, c.R, d.R), mix(a.G, b.G, c.G, d.G), mix(a.B, b.B, c.B, d.B), 255})
		}
	}
	return out
}
