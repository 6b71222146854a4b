// Package face computes face descriptors offline, in pure Go: face-api's
// TinyFaceDetector finds faces, FaceLandmark68Net places 68 landmarks,
// the landmarks give face-api's dlib-style aligned crop, and dlib's ResNet
// (FaceRecognitionNet) maps that crop to a 128-d descriptor; two
// descriptors of one person lie within Euclidean distance 0.6
// (DefaultThreshold).
//
// The weights are those of the npm package @vladmandic/face-api 1.7.15,
// 8-bit quantised, TF.js format, embedded from model/ (see
// model/SOURCES.md); LoadFS reads the same files from elsewhere. The
// forward passes follow face-api's TF.js code operation for operation, and
// a golden test holds them to it (testdata/golden). Descriptors are
// encoded for storage with MarshalDescriptor.
//
// It owns face images (JPEG, JPEG 2000) to descriptors and their encoding;
// it imports only the standard library and internal/jp2.
//
// Size: about 1,700 lines over the ~1,500 house limit: three networks share
// one tensor arena, the GEMM kernel and the weight loader; splitting them
// would export the arena.
package face
