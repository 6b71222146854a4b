//go:build race

package match

// raceEnabled shrinks the evaluation under the race detector, which makes
// the image pipeline several times slower.
const raceEnabled = true
