package face

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Bounds on a TF.js weights manifest and its shards. The three networks
// need 19, 136 and 116 entries and at most 589,824 values per entry.
const (
	maxManifestBytes = 1 << 20
	maxWeightsBytes  = 64 << 20
	maxEntries       = 4096
	maxEntryValues   = 1 << 24
	maxRank          = 4
)

// manifest is the TF.js weights manifest: groups of shard files whose
// concatenation holds the entries in order.
type manifest []struct {
	Paths   []string      `json:"paths"`
	Weights []weightEntry `json:"weights"`
}

type weightEntry struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string   `json:"dtype"`
		Scale *float64 `json:"scale"`
		Min   *float64 `json:"min"`
	} `json:"quantization"`
}

// tensorW is one dequantised weight.
type tensorW struct {
	shape []int
	v     []float32
}

// weightMap holds a network's weights by name.
type weightMap map[string]tensorW

// parseWeights decodes a manifest and the concatenation of its shards (in
// manifest order) the way TF.js does: uint8/uint16 values become
// float32(v*scale+min), computed in float64 as JavaScript does.
func parseWeights(manifestJSON []byte, shards func(path string) ([]byte, error)) (weightMap, error) {
	if len(manifestJSON) > maxManifestBytes {
		return nil, fmt.Errorf("face: weights manifest is %d bytes, more than %d", len(manifestJSON), maxManifestBytes)
	}
	var m manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, fmt.Errorf("face: weights manifest: %w", err)
	}
	out := weightMap{}
	total := 0
	for gi, g := range m {
		var data []byte
		for _, p := range g.Paths {
			b, err := shards(p)
			if err != nil {
				return nil, fmt.Errorf("face: weights shard %q: %w", p, err)
			}
			if len(data)+len(b) > maxWeightsBytes {
				return nil, fmt.Errorf("face: weights larger than %d bytes", maxWeightsBytes)
			}
			data = append(data, b...)
		}
		off := 0
		for _, e := range g.Weights {
			if total++; total > maxEntries {
				return nil, fmt.Errorf("face: more than %d weight entries", maxEntries)
			}
			if _, dup := out[e.Name]; dup || e.Name == "" {
				return nil, fmt.Errorf("face: weight entry %q missing a name or repeated", e.Name)
			}
			n, err := shapeSize(e.Shape)
			if err != nil {
				return nil, fmt.Errorf("face: weight %q: %w", e.Name, err)
			}
			if e.Dtype != "float32" {
				return nil, fmt.Errorf("face: weight %q has dtype %q, want float32", e.Name, e.Dtype)
			}
			v, used, err := decodeEntry(e, n, data[off:])
			if err != nil {
				return nil, fmt.Errorf("face: weight %q: %w", e.Name, err)
			}
			off += used
			out[e.Name] = tensorW{shape: append([]int(nil), e.Shape...), v: v}
		}
		if off != len(data) {
			return nil, fmt.Errorf("face: weights group %d: %d bytes of shards, entries use %d", gi, len(data), off)
		}
	}
	return out, nil
}

func shapeSize(shape []int) (int, error) {
	if len(shape) > maxRank {
		return 0, fmt.Errorf("rank %d, at most %d", len(shape), maxRank)
	}
	n := 1
	for _, d := range shape {
		if d <= 0 || d > maxEntryValues {
			return 0, fmt.Errorf("bad dimension %d", d)
		}
		n *= d
		if n > maxEntryValues {
			return 0, fmt.Errorf("more than %d values", maxEntryValues)
		}
	}
	return n, nil
}

var errShort = errors.New("shards end before the entry does")

func decodeEntry(e weightEntry, n int, b []byte) ([]float32, int, error) {
	v := make([]float32, n)
	q := e.Quantization
	if q == nil {
		if len(b) < 4*n {
			return nil, 0, errShort
		}
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, 4 * n, nil
	}
	switch q.Dtype {
	case "uint8", "uint16":
		if q.Scale == nil || q.Min == nil {
			return nil, 0, fmt.Errorf("%s quantisation without scale and min", q.Dtype)
		}
		scale, lo := *q.Scale, *q.Min
		if q.Dtype == "uint8" {
			if len(b) < n {
				return nil, 0, errShort
			}
			for i := range v {
				v[i] = float32(float64(b[i])*scale + lo)
			}
			return v, n, nil
		}
		if len(b) < 2*n {
			return nil, 0, errShort
		}
		for i := range v {
			v[i] = float32(float64(binary.LittleEndian.Uint16(b[2*i:]))*scale + lo)
		}
		return v, 2 * n, nil
	case "float16":
		if len(b) < 2*n {
			return nil, 0, errShort
		}
		for i := range v {
			v[i] = half(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return v, 2 * n, nil
	}
	return nil, 0, fmt.Errorf("unknown quantisation %q", q.Dtype)
}

// half converts an IEEE 754 binary16 value.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// take returns the weight called name, checking its shape.
func (w weightMap) take(name string, shape ...int) ([]float32, error) {
	t, ok := w[name]
	if !ok {
		return nil, fmt.Errorf("face: weight %q missing", name)
	}
	if len(t.shape) != len(shape) {
		return nil, fmt.Errorf("face: weight %q has shape %v, want %v", name, t.shape, shape)
	}
	for i := range shape {
		if t.shape[i] != shape[i] {
			return nil, fmt.Errorf("face: weight %q has shape %v, want %v", name, t.shape, shape)
		}
	}
	for _, x := range t.v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("face: weight %q holds a non-finite value", name)
		}
	}
	return t.v, nil
}
