package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/atomicfile"
)

// keyTemplate is the identity key the TPM makes: ECDSA P-256 that signs
// SHA-256 digests, generated inside the TPM (sensitiveDataOrigin), bound
// to this TPM and to its storage key (fixedTPM, fixedParent: TPM2_Duplicate
// refuses it). Its authorization is empty: whoever can talk to the TPM as
// the service user may sign, no one can take the key away; noDA keeps the
// TPM's dictionary-attack lockout, which an empty secret does not need,
// from stopping the device.
var keyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// cmdTimeout bounds one TPM command over TCP: a TPM signs in tens of
// milliseconds, and a software TPM that stopped answering must not hang a
// TLS handshake for ever.
const cmdTimeout = 30 * time.Second

// tpmKey is a key of the TPM kind, loaded in the TPM for as long as it is
// open.
type tpmKey struct {
	pub *ecdsa.PublicKey

	mu     sync.Mutex // one command at a time on the TPM
	tpm    transport.TPMCloser
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
}

func (k *tpmKey) Public() crypto.PublicKey { return k.pub }
func (k *tpmKey) Kind() Kind               { return KindTPM }

// Sign has the TPM sign a SHA-256 digest (TPM2_Sign, ECDSA) and returns
// the signature in ASN.1 DER.
func (k *tpmKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil, errors.New("identity: TPM key closed")
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(k.tpm)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM sign: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("identity: TPM sign: %w", err)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig.SignatureR.Buffer), new(big.Int).SetBytes(sig.SignatureS.Buffer)})
	if err != nil {
		return nil, fmt.Errorf("identity: TPM sign: %w", err)
	}
	return der, nil
}

// Close unloads the key from the TPM and closes the connection to it.
func (k *tpmKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil
	}
	// A software TPM reached over TCP keeps what a client left loaded;
	// the kernel's resource manager would flush it, a socket does not.
	_, ferr := tpm2.FlushContext{FlushHandle: k.handle}.Execute(k.tpm)
	cerr := k.tpm.Close()
	k.tpm = nil
	if err := errors.Join(ferr, cerr); err != nil {
		return fmt.Errorf("identity: close TPM key: %w", err)
	}
	return nil
}

// openTPM connects to the TPM and loads the identity key, making it on
// first use.
func openTPM(ctx context.Context, cfg config.Identity) (*tpmKey, error) {
	t, err := dialTPM(ctx, cfg)
	if err != nil {
		return nil, err
	}
	k, err := loadTPMKey(ctx, t, cfg.TPMKeyFile)
	if err != nil {
		t.Close()
		return nil, err
	}
	k.tpm = t
	return k, nil
}

// dialTPM opens the TPM: the software TPM at cfg.TPMAddress, else the
// device file.
func dialTPM(ctx context.Context, cfg config.Identity) (transport.TPMCloser, error) {
	if cfg.TPMAddress != "" {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", cfg.TPMAddress)
		if err != nil {
			return nil, fmt.Errorf("identity.tpm_address: %w", err)
		}
		return &connTPM{c: c}, nil
	}
	if _, err := os.Stat(cfg.TPMDevice); err != nil {
		return nil, fmt.Errorf("identity.tpm_device: no TPM: %w", err)
	}
	t, err := linuxtpm.Open(cfg.TPMDevice)
	if err != nil {
		return nil, fmt.Errorf("identity.tpm_device: %w", err)
	}
	return t, nil
}

// loadTPMKey loads the key saved at path into the TPM, or makes one and
// saves it there. The storage key it is made under is not saved: the TPM
// derives it again, the same, from its owner seed and the standard
// template, so a copy of the file on another TPM (another seed) is
// refused.
func loadTPMKey(ctx context.Context, raw transport.TPM, path string) (*tpmKey, error) {
	t := ctxTPM{ctx, raw}
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM: make the storage key: %w", err)
	}
	// The key stays loaded once its parent is flushed. The flush goes
	// out even when ctx has ended: a TPM without a resource manager
	// (swtpm over TCP) would keep the storage key loaded.
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(raw)
	parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}

	b, err := readBlob(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = createBlob(t, parent, path)
	}
	if err != nil {
		return nil, err
	}
	ld, err := tpm2.Load{ParentHandle: parent, InPublic: b.public, InPrivate: b.private}.Execute(t)
	if errors.Is(err, tpm2.TPMRCIntegrity) {
		return nil, fmt.Errorf("identity: %s was not made by this TPM, or the TPM was cleared since: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: TPM: load %s: %w", path, err)
	}
	return &tpmKey{pub: b.pub, handle: ld.ObjectHandle, name: ld.Name}, nil
}

// createBlob has the TPM make a key under parent and saves it at path.
func createBlob(t transport.TPM, parent tpm2.AuthHandle, path string) (*blob, error) {
	rsp, err := tpm2.Create{ParentHandle: parent, InPublic: tpm2.New2B(keyTemplate)}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM: make the key: %w", err)
	}
	data := encodeBlob(rsp.OutPublic.Bytes(), rsp.OutPrivate.Buffer)
	// Parsing what the TPM returned checks it made the key asked for.
	b, err := parseBlob(data)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM made an unexpected key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	err = atomicfile.Create(path, data, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process saved one first: use that one.
		return readBlob(path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return b, nil
}

func readBlob(path string) (*blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBlobFile+1))
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", path, err)
	}
	b, err := parseBlob(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// ctxTPM stops sending commands once ctx is done: opening the key takes
// a few commands, each bounded by the transport.
type ctxTPM struct {
	ctx context.Context
	t   transport.TPM
}

func (c ctxTPM) Send(cmd []byte) ([]byte, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return c.t.Send(cmd)
}

// maxResponse bounds a TPM response; TPMs answer a few kilobytes at most.
const maxResponse = 64 << 10

// connTPM sends TPM commands over a stream socket, as swtpm's server
// takes them: the command as is, the response read in full by its
// header's size. (go-tpm's transport.FromReadWriteCloser reads the
// response with one Read, which a TCP stream may cut.)
type connTPM struct {
	c      net.Conn
	broken error // a response was cut: the stream is out of step
}

func (t *connTPM) Send(cmd []byte) ([]byte, error) {
	if t.broken != nil {
		return nil, t.broken
	}
	rsp, err := t.send(cmd)
	if err != nil {
		t.broken = fmt.Errorf("TPM connection: %w", err)
		return nil, t.broken
	}
	return rsp, nil
}

func (t *connTPM) send(cmd []byte) ([]byte, error) {
	if err := t.c.SetDeadline(time.Now().Add(cmdTimeout)); err != nil {
		return nil, err
	}
	if _, err := t.c.Write(cmd); err != nil {
		return nil, err
	}
	var hdr [10]byte // tag, size, response code
	if _, err := io.ReadFull(t.c, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[2:6])
	if n < uint32(len(hdr)) || n > maxResponse {
		return nil, fmt.Errorf("response of %d bytes", n)
	}
	rsp := make([]byte, n)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(t.c, rsp[len(hdr):]); err != nil {
		return nil, err
	}
	return rsp, nil
}

func (t *connTPM) Close() error { return t.c.Close() }
