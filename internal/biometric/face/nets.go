package face

import "fmt"

// The three networks of face-api, forward passes only, written to follow
// face-api's TF.js code step by step (same operations in the same order)
// so that outputs agree to float32 rounding.

// sepConv is a depthwise 3x3 then pointwise 1x1 convolution with a bias.
type sepConv struct {
	dw, pw, b []float32
	cin, cout int
}

func loadSep(w weightMap, prefix string, cin, cout int) (sepConv, error) {
	var s sepConv
	var err error
	if s.dw, err = w.take(prefix+"/depthwise_filter", 3, 3, cin, 1); err != nil {
		return s, err
	}
	if s.pw, err = w.take(prefix+"/pointwise_filter", 1, 1, cin, cout); err != nil {
		return s, err
	}
	if s.b, err = w.take(prefix+"/bias", cout); err != nil {
		return s, err
	}
	s.cin, s.cout = cin, cout
	return s, nil
}

// run applies the separable convolution with stride s and explicit padding.
func (sc *sepConv) run(a *arena, x tensor, s, padT, padL, oh, ow int) tensor {
	d := depthwise3(a, x, sc.dw, s, padT, padL, oh, ow)
	out := conv2d(a, d, sc.pw, 1, 1, sc.cout, 1, 0, 0, oh, ow)
	addBias(out, sc.b)
	return out
}

// same runs it with TensorFlow "same" padding.
func (sc *sepConv) same(a *arena, x tensor, s int) tensor {
	oh, pt := samePad(x.h, 3, s)
	ow, pl := samePad(x.w, 3, s)
	return sc.run(a, x, s, pt, pl, oh, ow)
}

// ---- TinyFaceDetector (tiny YOLO v2 with separable convolutions) ----

type detectorNet struct {
	conv0w, conv0b []float32
	sep            [5]sepConv
	conv8w, conv8b []float32
}

var detectorChannels = [...]int{16, 32, 64, 128, 256, 512}

func loadDetector(w weightMap) (*detectorNet, error) {
	n := &detectorNet{}
	var err error
	if n.conv0w, err = w.take("conv0/filters", 3, 3, 3, 16); err != nil {
		return nil, err
	}
	if n.conv0b, err = w.take("conv0/bias", 16); err != nil {
		return nil, err
	}
	for i := range n.sep {
		if n.sep[i], err = loadSep(w, fmt.Sprintf("conv%d", i+1), detectorChannels[i], detectorChannels[i+1]); err != nil {
			return nil, err
		}
	}
	if n.conv8w, err = w.take("conv8/filters", 1, 1, 512, 25); err != nil {
		return nil, err
	}
	if n.conv8b, err = w.take("conv8/bias", 25); err != nil {
		return nil, err
	}
	return n, nil
}

// leaky is face-api's leaky ReLU, relu(x - 0.1x) + 0.1x in float32.
func leaky(d []float32) {
	const alpha = float32(0.10000000149011612)
	for i, v := range d {
		m := v * alpha
		r := v - m
		if r < 0 {
			r = 0
		}
		d[i] = r + m
	}
}

func maxPoolSame2(a *arena, x tensor, s int) tensor {
	oh, pt := samePad(x.h, 2, s)
	ow, pl := samePad(x.w, 2, s)
	return maxPool(a, x, 2, s, pt, pl, oh, ow)
}

// forward maps a normalised size x size x 3 input to the grid of box
// encodings (size/32 cells, 5 anchors x 5 values).
func (n *detectorNet) forward(a *arena, x tensor) tensor {
	out := conv2d(a, x, n.conv0w, 3, 3, 16, 1, 0, 0, validOut(x.h, 3, 1), validOut(x.w, 3, 1))
	addBias(out, n.conv0b)
	leaky(out.d)
	out = maxPoolSame2(a, out, 2)
	for i := range n.sep {
		s := 2 // the last pool keeps the 13 x 13 grid
		if i == len(n.sep)-1 {
			s = 1
		}
		// tinyYolov2's separable block pads by one then convolves "valid".
		out = n.sep[i].run(a, out, 1, 1, 1, out.h, out.w)
		leaky(out.d)
		out = maxPoolSame2(a, out, s)
	}
	out = conv2d(a, out, n.conv8w, 1, 1, 25, 1, 0, 0, out.h, out.w)
	addBias(out, n.conv8b)
	return out
}

// ---- FaceLandmark68Net (dense blocks of separable convolutions, then fc) ----

type denseBlock struct {
	conv0w, conv0b []float32 // first block only: a full 3x3 convolution
	conv0          sepConv
	conv           [3]sepConv
	first          bool
	cout           int
}

type landmarkNet struct {
	dense    [4]denseBlock
	fcw, fcb []float32
}

func loadLandmarks(w weightMap) (*landmarkNet, error) {
	n := &landmarkNet{}
	chans := [...]int{3, 32, 64, 128, 256}
	var err error
	for i := range n.dense {
		db := &n.dense[i]
		p := fmt.Sprintf("dense%d", i)
		cin, cout := chans[i], chans[i+1]
		db.first, db.cout = i == 0, cout
		if db.first {
			if db.conv0w, err = w.take(p+"/conv0/filters", 3, 3, cin, cout); err != nil {
				return nil, err
			}
			if db.conv0b, err = w.take(p+"/conv0/bias", cout); err != nil {
				return nil, err
			}
		} else if db.conv0, err = loadSep(w, p+"/conv0", cin, cout); err != nil {
			return nil, err
		}
		for j := range db.conv {
			if db.conv[j], err = loadSep(w, fmt.Sprintf("%s/conv%d", p, j+1), cout, cout); err != nil {
				return nil, err
			}
		}
	}
	if n.fcw, err = w.take("fc/weights", 256, 136); err != nil {
		return nil, err
	}
	if n.fcb, err = w.take("fc/bias", 136); err != nil {
		return nil, err
	}
	return n, nil
}

// add sets dst = x + y elementwise.
func add(dst, x, y []float32) {
	y = y[:len(x)]
	dst = dst[:len(x)]
	for i := range x {
		dst[i] = x[i] + y[i]
	}
}

// run is face-api's denseBlock4 with scale-down.
func (db *denseBlock) run(a *arena, x tensor) tensor {
	var out1 tensor
	if db.first {
		oh, pt := samePad(x.h, 3, 2)
		ow, pl := samePad(x.w, 3, 2)
		out1 = conv2d(a, x, db.conv0w, 3, 3, db.cout, 2, pt, pl, oh, ow)
		addBias(out1, db.conv0b)
	} else {
		out1 = db.conv0.same(a, x, 2)
	}
	relu(out1.d)
	out2 := db.conv[0].same(a, out1, 1)
	in3 := a.tensor(out1.h, out1.w, out1.c)
	add(in3.d, out1.d, out2.d)
	relu(in3.d)
	out3 := db.conv[1].same(a, in3, 1)
	// in4 = relu(out1 + (out2 + out3)); out3 is kept for the last sum.
	s23 := a.tensor(out1.h, out1.w, out1.c)
	add(s23.d, out2.d, out3.d)
	in4 := a.tensor(out1.h, out1.w, out1.c)
	add(in4.d, out1.d, s23.d)
	relu(in4.d)
	out4 := db.conv[2].same(a, in4, 1)
	// out1 + (out2 + (out3 + out4))
	add(out4.d, out3.d, out4.d)
	add(out4.d, out2.d, out4.d)
	add(out4.d, out1.d, out4.d)
	relu(out4.d)
	return out4
}

// forward maps a normalised 112 x 112 x 3 input to 136 values: 68 (x, y)
// pairs relative to the padded square input.
func (n *landmarkNet) forward(a *arena, x tensor) []float32 {
	for i := range n.dense {
		x = n.dense[i].run(a, x)
	}
	x = avgPool(a, x, 7, 2)
	out := a.alloc(136)
	gemm(1, 136, x.h*x.w*x.c, x.d, n.fcw, out)
	for i := range out {
		out[i] += n.fcb[i]
	}
	return out
}

// ---- FaceRecognitionNet (dlib's ResNet, 128-d descriptor) ----

// convLayer is a convolution, bias and per-channel scale (batch norm
// folded by dlib's export into weights and biases).
type convLayer struct {
	f, b, sw, sb []float32
	k, cout      int
}

type residual struct{ conv1, conv2 convLayer }

type recogNet struct {
	down32 convLayer
	blocks []residual
	downs  []bool // block i is a down-sampling block
	fc     []float32
}

func loadConv(w weightMap, p string, k, cin, cout int) (convLayer, error) {
	c := convLayer{k: k, cout: cout}
	var err error
	if c.f, err = w.take(p+"/conv/filters", k, k, cin, cout); err != nil {
		return c, err
	}
	if c.b, err = w.take(p+"/conv/bias", cout); err != nil {
		return c, err
	}
	if c.sw, err = w.take(p+"/scale/weights", cout); err != nil {
		return c, err
	}
	if c.sb, err = w.take(p+"/scale/biases", cout); err != nil {
		return c, err
	}
	return c, nil
}

func loadRecognition(w weightMap) (*recogNet, error) {
	n := &recogNet{}
	var err error
	if n.down32, err = loadConv(w, "conv32_down", 7, 3, 32); err != nil {
		return nil, err
	}
	type spec struct {
		name      string
		cin, cout int
		down      bool
	}
	specs := []spec{
		{"conv32_1", 32, 32, false}, {"conv32_2", 32, 32, false}, {"conv32_3", 32, 32, false},
		{"conv64_down", 32, 64, true}, {"conv64_1", 64, 64, false}, {"conv64_2", 64, 64, false}, {"conv64_3", 64, 64, false},
		{"conv128_down", 64, 128, true}, {"conv128_1", 128, 128, false}, {"conv128_2", 128, 128, false},
		{"conv256_down", 128, 256, true}, {"conv256_1", 256, 256, false}, {"conv256_2", 256, 256, false},
		{"conv256_down_out", 256, 256, true},
	}
	for _, s := range specs {
		var r residual
		if r.conv1, err = loadConv(w, s.name+"/conv1", 3, s.cin, s.cout); err != nil {
			return nil, err
		}
		if r.conv2, err = loadConv(w, s.name+"/conv2", 3, s.cout, s.cout); err != nil {
			return nil, err
		}
		n.blocks = append(n.blocks, r)
		n.downs = append(n.downs, s.down)
	}
	if n.fc, err = w.take("fc", 256, 128); err != nil {
		return nil, err
	}
	return n, nil
}

// run is conv2d, + bias, * scale, + shift, then ReLU if asked; down
// selects stride 2 "valid", else stride 1 "same".
func (c *convLayer) run(a *arena, x tensor, down, withRelu bool) tensor {
	var out tensor
	if down {
		oh, ow := validOut(x.h, c.k, 2), validOut(x.w, c.k, 2)
		out = conv2d(a, x, c.f, c.k, c.k, c.cout, 2, 0, 0, oh, ow)
	} else {
		oh, pt := samePad(x.h, c.k, 1)
		ow, pl := samePad(x.w, c.k, 1)
		out = conv2d(a, x, c.f, c.k, c.k, c.cout, 1, pt, pl, oh, ow)
	}
	n := c.cout
	for p := 0; p < len(out.d); p += n {
		row := out.d[p : p+n]
		for i := range row {
			v := row[i] + c.b[i]
			v *= c.sw[i]
			v += c.sb[i]
			if withRelu && v < 0 {
				v = 0
			}
			row[i] = v
		}
	}
	return out
}

func (r *residual) run(a *arena, x tensor) tensor {
	out := r.conv1.run(a, x, false, true)
	out = r.conv2.run(a, out, false, false)
	add(out.d, out.d, x.d)
	relu(out.d)
	return out
}

// runDown is face-api's residualDown: the shortcut is a 2x2 average pool,
// zero-padded in channels; when the pool is larger than the convolution
// output, that output gets a zero row and column at the end.
func (r *residual) runDown(a *arena, x tensor) tensor {
	out := r.conv1.run(a, x, true, true)
	out = r.conv2.run(a, out, false, false)
	pooled := avgPool(a, x, 2, 2)
	if pooled.h != out.h || pooled.w != out.w {
		grown := a.tensor(out.h+1, out.w+1, out.c)
		clear(grown.d)
		for y := 0; y < out.h; y++ {
			copy(grown.d[y*grown.w*out.c:], out.d[y*out.w*out.c:(y+1)*out.w*out.c])
		}
		out = grown
	}
	c, pc := out.c, pooled.c
	for p := 0; p < out.h*out.w; p++ {
		o := out.d[p*c : (p+1)*c]
		pr := pooled.d[p*pc : (p+1)*pc]
		for i := range pr {
			o[i] = pr[i] + o[i]
		}
		// channels past the pool's are pooled zeros: 0 + o[i]
	}
	relu(out.d)
	return out
}

// forward maps a normalised 150 x 150 x 3 input to the 128-d descriptor.
func (n *recogNet) forward(a *arena, x tensor, out []float32) {
	x = n.down32.run(a, x, true, true)
	x = maxPool(a, x, 3, 2, 0, 0, validOut(x.h, 3, 2), validOut(x.w, 3, 2))
	for i := range n.blocks {
		if n.downs[i] {
			x = n.blocks[i].runDown(a, x)
		} else {
			x = n.blocks[i].run(a, x)
		}
	}
	mean := a.alloc(x.c)
	clear(mean)
	for p := 0; p < x.h*x.w; p++ {
		for i, v := range x.d[p*x.c : (p+1)*x.c] {
			mean[i] += v
		}
	}
	inv := float32(x.h * x.w)
	for i := range mean {
		mean[i] /= inv
	}
	gemm(1, 128, x.c, mean, n.fc, out)
}
