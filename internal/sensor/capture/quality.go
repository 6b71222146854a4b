package capture

import (
	"image"
	"math"
)

// EstimateQuality gives a 0..100 score from how much of the image shows
// ridges and how strong their contrast is: the image is cut into 16x16
// blocks, a block counts as finger when its grey-level standard deviation
// is above a noise floor, and the score is the square root of the finger
// share times the mean contrast of finger blocks. An empty sensor scores 0.
//
// It is a plausibility check, not NFIQ: the quality block it fills carries
// vendor and algorithm ID 0 (unregistered), and an agent with a real NFIQ
// implementation should pass its score in Request.Quality instead.
func EstimateQuality(img *image.Gray) uint8 {
	const blk, noise, strong = 16, 10.0, 60.0
	b := img.Bounds()
	var blocks, finger int
	var contrast float64
	for y0 := b.Min.Y; y0+blk <= b.Max.Y; y0 += blk {
		for x0 := b.Min.X; x0+blk <= b.Max.X; x0 += blk {
			var sum, sq float64
			for y := y0; y < y0+blk; y++ {
				row := img.Pix[img.PixOffset(x0, y):]
				for x := 0; x < blk; x++ {
					v := float64(row[x])
					sum += v
					sq += v * v
				}
			}
			n := float64(blk * blk)
			mean := sum / n
			sd := math.Sqrt(math.Max(0, sq/n-mean*mean))
			blocks++
			if sd > noise {
				finger++
				contrast += math.Min(1, sd/strong)
			}
		}
	}
	if blocks == 0 || finger == 0 {
		return 0
	}
	score := 100 * math.Sqrt(float64(finger)/float64(blocks)) * (contrast / float64(finger))
	return uint8(math.Round(math.Max(0, math.Min(100, score))))
}
