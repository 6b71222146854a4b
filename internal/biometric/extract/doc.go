// Package extract finds minutiae in a grey fingerprint image at 500 ppi:
// segmentation, orientation field, ridge frequency, contextual (Gabor)
// enhancement, binarisation, thinning, minutia detection by crossing
// number, and removal of false minutiae (spurs, bridges, short ridges,
// broken ridges, clusters, border artefacts), with a quality per minutia.
//
// The pipeline is the classic one of Hong, Wan and Jain (1998) with the
// post-processing rules of Maltoni et al. ("Handbook of Fingerprint
// Recognition", ch. 3); the output is a template.Set in the ISO/ANSI
// angle convention, which template.Set.Record writes as ISO/IEC
// 19794-2:2011.
//
// As a library it never imports a daemon package.
package extract
