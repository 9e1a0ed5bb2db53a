package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// publicOf is the TPM encoding of tmpl with k's point: what a TPM returns
// for a key it made from tmpl.
func publicOf(tmpl tpm2.TPMTPublic, x, y []byte) []byte {
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: x}, Y: tpm2.TPM2BECCParameter{Buffer: y}})
	return tpm2.Marshal(tmpl)
}

func point(t testing.TB) (x, y []byte, k *ecdsa.PrivateKey) {
	k, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b[1:33], b[33:], k
}

func TestParseBlob(t *testing.T) {
	x, y, k := point(t)
	private := make([]byte, 126) // what swtpm returns for this key: an encrypted, MACed sensitive area
	good := encodeBlob(publicOf(keyTemplate, x, y), private)
	b, err := parseBlob(good)
	if err != nil {
		t.Fatal(err)
	}
	if !b.pub.Equal(&k.PublicKey) || len(b.private.Buffer) != len(private) {
		t.Fatal("parsed another key")
	}

	with := func(f func(*tpm2.TPMTPublic)) []byte {
		tmpl := keyTemplate
		f(&tmpl)
		return encodeBlob(publicOf(tmpl, x, y), private)
	}
	offCurve := append([]byte{}, y...)
	offCurve[31] ^= 1
	body := func(b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: blobType, Bytes: b}) }
	goodBody, _ := pem.Decode(good)
	hostile := map[string][]byte{
		"empty":              nil,
		"text":               []byte("hello"),
		"other PEM type":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: goodBody.Bytes}),
		"two blocks":         append(append([]byte{}, good...), good...),
		"data after":         append(append([]byte{}, good...), 'x'),
		"PEM headers":        pem.EncodeToMemory(&pem.Block{Type: blobType, Headers: map[string]string{"a": "b"}, Bytes: goodBody.Bytes}),
		"empty body":         body(nil),
		"one byte":           body([]byte{0}),
		"public size lies":   body(append([]byte{0xff, 0xff}, goodBody.Bytes[2:]...)),
		"no private":         body(goodBody.Bytes[:len(goodBody.Bytes)-len(private)-2]),
		"empty private":      encodeBlob(publicOf(keyTemplate, x, y), nil),
		"private cut":        body(goodBody.Bytes[:len(goodBody.Bytes)-1]),
		"trailing body":      body(append(append([]byte{}, goodBody.Bytes...), 0)),
		"empty public":       encodeBlob(nil, private),
		"public garbage":     encodeBlob([]byte{1, 2, 3, 4, 5}, private),
		"public trailing":    encodeBlob(append(publicOf(keyTemplate, x, y), 0), private),
		"not fixedTPM":       with(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.FixedTPM = false }),
		"not fixedParent":    with(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.FixedParent = false }),
		"imported":           with(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SensitiveDataOrigin = false }),
		"decrypt too":        with(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Decrypt = true }),
		"with a policy":      with(func(p *tpm2.TPMTPublic) { p.AuthPolicy = tpm2.TPM2BDigest{Buffer: make([]byte, 32)} }),
		"admin with policy":  with(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.AdminWithPolicy = true }),
		"SHA-1 name":         with(func(p *tpm2.TPMTPublic) { p.NameAlg = tpm2.TPMAlgSHA1 }),
		"RSA type":           encodeBlob(append([]byte{0, byte(tpm2.TPMAlgRSA)}, publicOf(keyTemplate, x, y)[2:]...), private),
		"keyed hash type":    encodeBlob(append([]byte{0, byte(tpm2.TPMAlgKeyedHash)}, publicOf(keyTemplate, x, y)[2:]...), private),
		"unknown type":       encodeBlob(append([]byte{0xde, 0xad}, publicOf(keyTemplate, x, y)[2:]...), private),
		"P-384":              with(func(p *tpm2.TPMTPublic) { p.Parameters = eccParms(tpm2.TPMECCNistP384, tpm2.TPMAlgSHA256) }),
		"SHA-384 scheme":     with(func(p *tpm2.TPMTPublic) { p.Parameters = eccParms(tpm2.TPMECCNistP256, tpm2.TPMAlgSHA384) }),
		"point off curve":    encodeBlob(publicOf(keyTemplate, x, offCurve), private),
		"short coordinate":   encodeBlob(publicOf(keyTemplate, x[1:], y), private),
		"zero point":         encodeBlob(publicOf(keyTemplate, make([]byte, 32), make([]byte, 32)), private),
		"huge":               append(append([]byte{}, good...), make([]byte, maxBlobFile)...),
		"private 65535":      body(append(append(append([]byte{}, goodBody.Bytes[:len(goodBody.Bytes)-len(private)-2]...), 0xff, 0xff), private...)),
		"public size 0xffff": body([]byte{0xff, 0xff, 0, 0}),
	}
	for name, data := range hostile {
		t.Run(name, func(t *testing.T) {
			if _, err := parseBlob(data); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func eccParms(curve tpm2.TPMECCCurve, hash tpm2.TPMAlgID) tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: hash})},
		CurveID: curve,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
}

func FuzzParseBlob(f *testing.F) {
	x, y, _ := point(f)
	good := encodeBlob(publicOf(keyTemplate, x, y), make([]byte, 126))
	f.Add(good)
	p, _ := pem.Decode(good)
	f.Add(p.Bytes) // the body alone, to let the fuzzer mutate TPM structures
	f.Add([]byte("-----BEGIN " + blobType + "-----\nAAA=\n-----END " + blobType + "-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] != '-' {
			// Bodies go through the PEM layer so that the TPM decoding is reached.
			data = pem.EncodeToMemory(&pem.Block{Type: blobType, Bytes: data})
		}
		b, err := parseBlob(data)
		if err != nil {
			return
		}
		if !b.pub.Curve.IsOnCurve(b.pub.X, b.pub.Y) || len(b.private.Buffer) == 0 {
			t.Fatal("accepted a key that is not one")
		}
		if _, err := parseBlob(encodeBlob(b.public.Bytes(), b.private.Buffer)); err != nil {
			t.Fatalf("re-encoded key refused: %v", err)
		}
	})
}
