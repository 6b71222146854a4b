// Package synth generates synthetic fingerprints with known identity, for
// measuring matchers: any number of fingers, any number of impressions of
// each, deterministic from (finger seed, impression seed).
//
// The model follows SFinGe (Cappelli, Maio, Maltoni; "Handbook of
// Fingerprint Recognition", ch. 6):
//
//   - a master fingerprint per finger: a fingertip silhouette; a pattern
//     class (arch, tented arch, left/right loop, whorl) with core and delta
//     positions; an orientation field from the Sherlock–Monro zero-pole
//     model (arches from a smooth hump field) with low-frequency
//     perturbation; a ridge period map (about 9 pixels at 500 ppi, wider
//     near singular points); and a ridge pattern grown from random seeds
//     by iterative space-variant Gabor filtering, whose collisions form the
//     minutiae;
//   - impressions of a master: translation, rotation, a non-linear elastic
//     distortion (a rigid close-contact region with a smoothly braked
//     displacement outside it, after Cappelli, Maio and Maltoni 2001, plus a
//     small random warp), partial contact, finger pressure and skin
//     dryness (ridge thickness and greyscale morphology), pores, contrast
//     drift, blur and sensor noise on an optical-sensor background.
//
// Images are 8-bit grey at 500 ppi; the default impression is 256 x 288,
// what the R30x emulator serves.
//
// As a library it never imports a daemon package.
package synth
