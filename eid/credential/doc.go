// Package credential makes and verifies the signed e-ID codes ("network ID
// card") that citizens show on their phones, offline, against a key set and
// a revocation list synchronised from the platform.
//
// # Format
//
// A code is the text
//
//	prefix || Base45(zlib(COSE_Sign1(CWT claims)))
//
// the container of the EU Digital COVID Certificate (eHealth Network,
// "Electronic Health Certificate Container Format" 1.0.x) with guichet's own
// prefix, DefaultPrefix "GEID1:" (configurable). Base45 (RFC 9285, package
// base45) keeps the text in the QR alphanumeric character set, so a phone
// shows it in alphanumeric mode; prefix characters must be in that set too.
// The zlib stream (RFC 1950) is inflated under a cap (MaxPayload). The
// COSE_Sign1 (RFC 9052 section 4.2, tag 18, package cose) is signed with
// ES256 (ECDSA P-256, r||s) or EdDSA (Ed25519); its kid (header 4, protected
// or unprotected) selects the platform key. The payload is a CWT claims set
// (RFC 8392 section 3.1) with integer NumericDates:
//
//	1 iss   text, required: the issuing platform
//	2 sub   text, optional, ignored: the subject lives in the e-ID claim
//	4 exp   required
//	5 nbf   optional (defaults to iat)
//	6 iat   required; must fall within the signing key's validity
//	7 cti   bytes, required: the credential id that revocation lists name
//	ClaimEID (-65537) the e-ID claim, a map:
//	  1 version (1)   2 level ("limited" | "full")   3 subject pseudonym
//	  4 name (optional)   5 age over 18 (optional bool)
//
// ClaimEID is in the CWT private-use range (below -65536, RFC 8392
// section 9.1); -260 is registered to the DCC's hcert claim, and reusing it
// would make DCC verifiers misread our codes.
//
// # What the code tells a verifier, and why no more
//
// A hotel, an airline desk or a counter needs to know three things: that the
// platform vouches for this person at a given level, which account it is,
// and that the person in front of them is that account's holder. So a code
// carries:
//
//   - the level: "limited" (face-linked in the app) or "full" (unlocked at an
//     official counter with the physical card); it decides which procedures
//     the verifier may open;
//   - a pseudonymous subject id chosen by the platform, so that a verifier
//     can tie a booking or a procedure to the account and the platform can
//     answer a lawful request, without the national ID number ever being in
//     the code;
//   - optionally the holder's display name, because the staff match the
//     holder to a booking and to another document;
//   - optionally "age over 18", instead of the birth date, for age-restricted
//     services.
//
// It does not carry the ID number, birth date, address, sex, nationality or
// any face image or template: each would be copied by every verifier and
// every camera that sees the phone, and none is needed to answer the three
// questions above. Verifiers that must register a full identity by law ask
// the platform online with the pseudonym. Nothing of a Result is logged by
// this package, and a Refusal's text never holds personal data.
//
// # Trust
//
// The device holds one platform root public key, provisioned with it. The
// root signs key sets (the credential-signing keys, each with a signing
// period) and revocation lists (truncated SHA-256 hashes of revoked cti
// values, with a sequence number and an issue time); both are COSE_Sign1
// messages with their own content type, so neither can stand for the other.
// Loaders refuse an unsigned list, a list signed by another key, an altered
// list, and a sequence number older than the one already loaded.
//
// Revocation goes by cti, not by a hash of the code: ECDSA signatures are
// malleable and the zlib and Base45 layers have several spellings, but the
// cti is inside the signed payload and cannot change.
package credential
