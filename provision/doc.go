// Package provision is the device side of enrolment: what an appliance
// does, on its own, to become known to the platform.
//
// Its packages are:
//
//   - identity: the device's ECDSA P-256 identity key, made on the device
//     inside a TPM 2.0 where there is one (the private key can never leave
//     the chip), else in a file readable only by the service user (the
//     weaker kind). The key signs the certificate request that enrolment
//     sends, and later authenticates the device in TLS;
//   - claim: the enrolment protocol, shared with the platform: codes,
//     topics, messages and the checks each side applies.
//
// Records are not signed with this key: they keep the Ed25519 device key
// of internal/keys, whose signatures the platform already verifies.
//
// This package itself is enrolment by one-time code: Enrol takes a blank
// box to an enrolled one over the provisioning broker, and the files it
// writes under the state directory are read back by LoadEnrolment when
// guichetd starts. An enrolled daemon connects with mutual TLS as
// tenant/device, with the identity key and the certificate the platform
// issued; a Renewer asks for a new certificate over the link's own session
// before the current one runs out, and the next connection uses it without
// a restart.
//
// Files, under STATE_DIR/enrolment (the directory is 0700):
//
//	cert.pem       the device certificate (CN tenant/device), replaced by renewals
//	ca.pem         the platform's CA bundle: trust for the brokers and the issuer of cert.pem
//	platform.pub   the platform's Ed25519 key (base64) that signs acks, commands and configuration
//	binding.json   tenant, site, role, device, brokers and where the key lives; written last,
//	               so its presence is what "enrolled" means
//
// The identity key itself is not here: it is in the TPM, or in the file
// named by the configuration's identity section.
package provision
