//go:build race

package extract

// raceEnabled trims the image tests under the race detector, which makes
// the pipeline several times slower.
const raceEnabled = true
