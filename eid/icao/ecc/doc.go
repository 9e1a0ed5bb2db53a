// Package ecc is the elliptic curve arithmetic of the eMRTD protocols, over
// math/big, for the curves crypto/ecdsa and crypto/ecdh lack: the brainpool
// curves of RFC 5639, with NIST's P-224 to P-521 beside them so that one
// code serves every standardized domain parameter of ICAO Doc 9303 Part 11
// 9.5.1. PACE (package pace) uses its point arithmetic for the generic
// mapping and the key agreement; passive authentication (package pa) uses
// its SubjectPublicKeyInfo parsing and ECDSA verification for document
// signers and country signing CAs on brainpool curves, which crypto/x509
// refuses to parse.
//
// It is not constant-time: PACE's secrets live for one card read on a
// reader that is not a shared host, verification handles public data only,
// and signing (PrivateKey) serves the virtual passport and tests.
package ecc
