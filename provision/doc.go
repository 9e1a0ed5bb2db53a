// Package provision is the device side of enrolment: what an appliance
// does, on its own, to become known to the platform.
//
// Its packages are:
//
//   - identity: the device's ECDSA P-256 identity key, made on the device
//     inside a TPM 2.0 where there is one (the private key can never leave
//     the chip), else in a file readable only by the service user (the
//     weaker kind). The key signs the certificate request that enrolment
//     sends, and later authenticates the device in TLS.
//
// Records are not signed with this key: they keep the Ed25519 device key
// of internal/keys, whose signatures the platform already verifies.
package provision
