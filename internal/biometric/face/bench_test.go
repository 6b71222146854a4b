package face

import (
	"image"
	"testing"
)

// Per-stage cost on one MOSIP face record (240 x 320, one face), the
// shape of an authentication capture. See docs/performance.md.

func benchSetup(b *testing.B) (*Model, *rgb, *Detection) {
	m := testModel(b)
	img := testImages(b)[6].img // Face_Auth
	px, err := toRGB(img)
	if err != nil {
		b.Fatal(err)
	}
	_, det, err := m.Descriptor(img)
	if err != nil {
		b.Fatal(err)
	}
	return m, px, det
}

func BenchmarkDetector(b *testing.B) {
	m, px, _ := benchSetup(b)
	a := &arena{}
	for range 2 { // size the arena
		a.reset()
		m.nets.det.forward(a, prepare(a, px, image.Rect(0, 0, px.w, px.h), false, m.opts.InputSize, detMean))
	}
	b.ReportAllocs()
	for b.Loop() {
		a.reset()
		in := prepare(a, px, image.Rect(0, 0, px.w, px.h), false, m.opts.InputSize, detMean)
		m.nets.det.forward(a, in)
	}
}

func BenchmarkLandmarks(b *testing.B) {
	m, px, det := benchSetup(b)
	crop := box{det.Box.X, det.Box.Y, det.Box.W, det.Box.H}.clip(px.w, px.h)
	a := &arena{}
	var d Detection
	for range 2 { // size the arena
		a.reset()
		m.landmarks(a, px, crop, box{}, &d)
	}
	b.ReportAllocs()
	for b.Loop() {
		a.reset()
		m.landmarks(a, px, crop, box{}, &d)
	}
}

func BenchmarkRecognition(b *testing.B) {
	m, px, det := benchSetup(b)
	a := &arena{}
	m.describe(a, px, det.Aligned) // size the arena
	m.describe(a, px, det.Aligned)
	b.ReportAllocs()
	for b.Loop() {
		m.describe(a, px, det.Aligned)
	}
}

// BenchmarkDescriptor is the whole per-face path: conversion, detection,
// landmarks, alignment, descriptor; kernel=go is the pure-Go GEMM peer.
func BenchmarkDescriptor(b *testing.B) {
	m := testModel(b)
	img := testImages(b)[6].img
	run := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.Descriptor(img); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("kernel=default", run)
	b.Run("kernel=go", func(b *testing.B) {
		saved := gemm
		gemm = gemmGo
		defer func() { gemm = saved }()
		run(b)
	})
}
