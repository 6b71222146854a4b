package match

// DefaultCalibration is the measured impostor tail of this matcher: every
// cross-finger pair of 300 synthetic fingers x 2 impressions (179,400
// impostor comparisons; impression 0 a lossless Registration record,
// impression 1 a lossy Auth record, seed base 1, generator defaults).
// Each point keeps at least 5 impostor scores at or beyond it. Regenerate
// with
//
//	EDGETRUST_CALIBRATE=300 go test -run TestCalibrationTable -v -timeout 30m ./internal/biometric/match/
//
// It is a synthetic calibration: real impostor tails seen so far (FVC2002
// DB1 set B, MOSIP mock records) lie below it, so on them the stated FMR is
// conservative; recalibrate on the deployment's own impostor scores when
// there are enough of them.
var DefaultCalibration = Calibration{
	{FMR: 0.1, Threshold: 0.0202},
	{FMR: 0.03, Threshold: 0.0245},
	{FMR: 0.01, Threshold: 0.0286},
	{FMR: 0.003, Threshold: 0.0334},
	{FMR: 0.001, Threshold: 0.0383},
	{FMR: 0.0003, Threshold: 0.0434},
	{FMR: 0.0001, Threshold: 0.0481},
	{FMR: 3e-05, Threshold: 0.0556},
}
