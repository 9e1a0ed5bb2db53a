// Package face checks the face at an e-ID counter: it detects faces in
// camera frames (OpenCV cascades, or YuNet when its model is configured),
// gates the picture's quality with reasons the official can pass on, runs a
// head-turn liveness challenge with a parallax test against flat photos and
// screens, and compares the live face 1:1 with the card photo (LBP
// histograms without any model file, or an SFace-compatible ONNX network
// when one is configured).
//
// An Engine holds what is loaded once; a Session is one citizen. Face
// pixels and templates are kept in memory for the session only, wiped on
// Close, never written to disk and never logged. The measured error rates
// and speed are in docs/faces.md.
package face
