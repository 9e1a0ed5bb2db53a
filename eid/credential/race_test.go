//go:build race

package credential

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = true
