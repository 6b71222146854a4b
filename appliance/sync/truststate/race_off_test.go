//go:build !race

package truststate

const raceEnabled = false
