package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// The TPM key file holds one PEM block of type blobType whose bytes are
// the key's TPM2B_PUBLIC then its TPM2B_PRIVATE, as the TPM marshals them
// (each a big-endian 16-bit size and that many bytes). The private part
// is encrypted and integrity-protected by the TPM under its storage key:
// the file is no secret, and worthless to any other TPM.
const blobType = "GUICHET TPM KEY"

// maxBlobFile bounds what is read of a TPM key file: the two parts are a
// few hundred bytes.
const maxBlobFile = 16 << 10

// blob is a parsed TPM key file.
type blob struct {
	public  tpm2.TPM2BPublic
	private tpm2.TPM2BPrivate
	pub     *ecdsa.PublicKey
}

func encodeBlob(public, private []byte) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, uint16(len(public)))
	body = append(body, public...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(private)))
	body = append(body, private...)
	return pem.EncodeToMemory(&pem.Block{Type: blobType, Bytes: body})
}

// parseBlob reads a TPM key file, checking that its public part is the
// key keyTemplate describes (fixedTPM, fixedParent, sensitiveDataOrigin,
// ECDSA P-256 with SHA-256): a file that describes any other key, one
// that could have been made outside the TPM or be exported, is refused.
func parseBlob(data []byte) (*blob, error) {
	if len(data) > maxBlobFile {
		return nil, fmt.Errorf("identity: TPM key file larger than %d bytes", maxBlobFile)
	}
	p, rest := pem.Decode(data)
	if p == nil || p.Type != blobType {
		return nil, errors.New("identity: TPM key file: want one PEM block " + blobType)
	}
	if len(bytes.TrimSpace(rest)) != 0 || len(p.Headers) != 0 {
		return nil, errors.New("identity: TPM key file: data beside the key")
	}
	body := p.Bytes
	public, body, ok := cut2B(body)
	if !ok {
		return nil, errors.New("identity: TPM key file: public part cut short")
	}
	private, body, ok := cut2B(body)
	if !ok || len(private) == 0 {
		return nil, errors.New("identity: TPM key file: private part cut short")
	}
	if len(body) != 0 {
		return nil, errors.New("identity: TPM key file: data after the private part")
	}
	pub, err := checkPublic(public)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM key file: %w", err)
	}
	return &blob{
		public:  tpm2.BytesAs2B[tpm2.TPMTPublic](public),
		private: tpm2.TPM2BPrivate{Buffer: private},
		pub:     pub,
	}, nil
}

// cut2B splits a TPM2B (16-bit size, then the bytes) off the front of b.
func cut2B(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// checkPublic decodes a TPMT_PUBLIC and checks it is the identity key's.
func checkPublic(b []byte) (*ecdsa.PublicKey, error) {
	pt, err := unmarshalPublic(b)
	if err != nil {
		return nil, fmt.Errorf("public part: %w", err)
	}
	if !bytes.Equal(tpm2.Marshal(*pt), b) {
		return nil, errors.New("public part: not in the TPM's encoding")
	}
	want := keyTemplate
	if pt.Type != want.Type || pt.NameAlg != want.NameAlg {
		return nil, fmt.Errorf("public part: want an ECC key named with SHA-256, not type %#x name %#x", uint16(pt.Type), uint16(pt.NameAlg))
	}
	if pt.ObjectAttributes != want.ObjectAttributes {
		return nil, fmt.Errorf("public part: attributes %#08x, want %#08x (fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, sign)",
			attrs(pt.ObjectAttributes), attrs(want.ObjectAttributes))
	}
	if len(pt.AuthPolicy.Buffer) != 0 {
		return nil, errors.New("public part: the key has a policy")
	}
	ecc, err := pt.Parameters.ECCDetail()
	if err != nil {
		return nil, fmt.Errorf("public part: %w", err)
	}
	wecc, _ := want.Parameters.ECCDetail()
	if !bytes.Equal(tpm2.Marshal(*ecc), tpm2.Marshal(*wecc)) {
		return nil, errors.New("public part: want ECDSA with SHA-256 on P-256, nothing else")
	}
	pt2, err := pt.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("public part: %w", err)
	}
	x, y := pt2.X.Buffer, pt2.Y.Buffer
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("public part: a P-256 point has 32-byte coordinates")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("public part: %w", err)
	}
	return pub, nil
}

// unmarshalPublic is tpm2.Unmarshal, which decodes by reflection: a
// panic on input it was not written for is an error here.
func unmarshalPublic(b []byte) (pt *tpm2.TPMTPublic, err error) {
	defer func() {
		if r := recover(); r != nil {
			pt, err = nil, fmt.Errorf("undecodable (%v)", r)
		}
	}()
	return tpm2.Unmarshal[tpm2.TPMTPublic](b)
}

// attrs is the 32-bit TPMA_OBJECT of a.
func attrs(a tpm2.TPMAObject) uint32 {
	return binary.BigEndian.Uint32(tpm2.Marshal(a))
}
