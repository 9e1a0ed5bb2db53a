package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/tpmtest"
)

// tpmConfig is the configuration of an identity in the TPM p.
func tpmConfig(p *tpmtest.TPM, keyFile string) config.Identity {
	return config.Identity{Kind: config.IdentityTPM, TPMAddress: p.Addr, TPMDevice: "/nonexistent/tpm", TPMKeyFile: keyFile, KeyFile: keyFile + ".pem"}
}

func openTPMKey(t *testing.T, cfg config.Identity) *tpmKey {
	t.Helper()
	k, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	tk, ok := k.(*tpmKey)
	if !ok || k.Kind() != KindTPM || k.Kind().Weaker() {
		t.Fatalf("opened %T of kind %s, want a TPM key", k, k.Kind())
	}
	return tk
}

func signVerify(t *testing.T, k crypto.Signer, msg string) {
	t.Helper()
	d := sha256.Sum256([]byte(msg))
	sig, err := k.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := p256(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Fatal("signature does not verify")
	}
	d[0] ^= 1
	if ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Fatal("signature verifies another digest")
	}
}

func TestTPMSignVerify(t *testing.T) {
	p := tpmtest.Start(t)
	path := filepath.Join(t.TempDir(), "sub", "identity.tpmkey")
	k := openTPMKey(t, tpmConfig(p, path))
	signVerify(t, k, "hello")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode())
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:], crypto.SHA384); err == nil {
		t.Fatal("signed with a hash other than SHA-256")
	}
	if _, err := k.Sign(nil, d[:31], crypto.SHA256); err == nil {
		t.Fatal("signed a short digest")
	}
}

func TestTPMConcurrentSigners(t *testing.T) {
	p := tpmtest.Start(t)
	k := openTPMKey(t, tpmConfig(p, filepath.Join(t.TempDir(), "k")))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := sha256.Sum256([]byte{byte(i)})
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err == nil && !ecdsa.VerifyASN1(k.pub, d[:], sig) {
				err = errors.New("bad signature")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The key is made once: reopening, also after the TPM restarted (its
// storage key made again from its seed), loads the same key from the file.
func TestTPMKeySurvivesReopenAndRestart(t *testing.T) {
	p := tpmtest.Start(t)
	cfg := tpmConfig(p, filepath.Join(t.TempDir(), "k"))
	k1, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pub1 := k1.Public().(*ecdsa.PublicKey)
	blob1, _ := os.ReadFile(cfg.TPMKeyFile)
	if err := k1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k1.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Fatal("a closed key signed")
	}
	k2 := openTPMKey(t, cfg)
	if !k2.pub.Equal(pub1) {
		t.Fatal("reopened: another key")
	}
	k2.Close()
	p.Restart()
	k3 := openTPMKey(t, cfg)
	if !k3.pub.Equal(pub1) {
		t.Fatal("after a TPM restart: another key")
	}
	signVerify(t, k3, "after restart")
	if blob3, _ := os.ReadFile(cfg.TPMKeyFile); string(blob3) != string(blob1) {
		t.Fatal("the key file was rewritten")
	}
}

// Opening and closing many times leaves nothing loaded in a TPM that has
// no resource manager in front of it (swtpm over TCP keeps objects across
// connections, and has room for three).
func TestTPMCloseUnloads(t *testing.T) {
	p := tpmtest.Start(t)
	cfg := tpmConfig(p, filepath.Join(t.TempDir(), "k"))
	for range 6 {
		k, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// The TPM made the key to be kept in it: fixedTPM and fixedParent (no
// duplication, to this TPM or another), sensitiveDataOrigin (the TPM drew
// the private key; no one supplied it), no policy that could grant the
// duplication role.
func TestTPMKeyAttributes(t *testing.T) {
	p := tpmtest.Start(t)
	k := openTPMKey(t, tpmConfig(p, filepath.Join(t.TempDir(), "k")))
	rp, err := tpm2.ReadPublic{ObjectHandle: k.handle}.Execute(k.tpm)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	a := pt.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.SignEncrypt || a.Decrypt || a.Restricted || a.EncryptedDuplication {
		t.Fatalf("attributes %+v: want fixedTPM, fixedParent, sensitiveDataOrigin, sign only", a)
	}
	if len(pt.AuthPolicy.Buffer) != 0 {
		t.Fatalf("the key has a policy %x", pt.AuthPolicy.Buffer)
	}
	if pub, err := tpm2.Pub(*pt); err != nil || !pub.(*ecdsa.PublicKey).Equal(k.pub) {
		t.Fatalf("the TPM's public key differs from the file's: %v", err)
	}
}

// duplicate asks the TPM to export the key at h (TPM2_Duplicate, with the
// policy session that the duplication role needs, no new parent and no
// inner wrapper: the sensitive area in the clear).
func duplicate(t transport.TPM, h tpm2.TPMHandle, name tpm2.TPM2BName) (*tpm2.DuplicateResponse, error) {
	return tpm2.Duplicate{
		ObjectHandle: tpm2.AuthHandle{Handle: h, Name: name,
			Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, s tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
				_, err := tpm2.PolicyCommandCode{PolicySession: s, Code: tpm2.TPMCCDuplicate}.Execute(t)
				return err
			})},
		NewParentHandle: tpm2.TPMRHNull,
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(t)
}

// The TPM refuses to export the identity key: the key has no policy, so
// nothing can take the duplication role; a key that has the policy but
// fixedParent is refused too (TPM_RC_ATTRIBUTES). The same request on a
// key made to be duplicable (policy, no fixedTPM nor fixedParent)
// succeeds: the refusals are the attributes' doing, not the request's.
// (TPM2_Duplicate is the only command that returns a key's sensitive
// area.)
func TestTPMRefusesToExportTheKey(t *testing.T) {
	p := tpmtest.Start(t)
	k := openTPMKey(t, tpmConfig(p, filepath.Join(t.TempDir(), "k")))
	// The key has no policy, so no session can take the duplication role.
	if _, err := duplicate(k.tpm, k.handle, k.name); !errors.Is(err, tpm2.TPMRCPolicyFail) {
		t.Fatalf("TPM2_Duplicate of the identity key: %v, want TPM_RC_POLICY_FAIL", err)
	}
	// Nor with a plain password session: duplication is the admin role's.
	_, err := tpm2.Duplicate{
		ObjectHandle:    tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: tpm2.PasswordAuth(nil)},
		NewParentHandle: tpm2.TPMRHNull,
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(k.tpm)
	if err == nil {
		t.Fatal("TPM2_Duplicate with a password exported the identity key")
	}

	// The control: a duplicable key, under the same storage key.
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(k.tpm)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(k.tpm)
	policy := dupPolicy(t, k.tpm)
	parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}

	// Even with the duplication policy, fixedParent alone stops it.
	fixed := keyTemplate
	fixed.AuthPolicy = tpm2.TPM2BDigest{Buffer: policy}
	fk, err := tpm2.CreateLoaded{ParentHandle: parent, InPublic: tpm2.New2BTemplate(&fixed)}.Execute(k.tpm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = duplicate(k.tpm, fk.ObjectHandle, fk.Name)
	tpm2.FlushContext{FlushHandle: fk.ObjectHandle}.Execute(k.tpm)
	if !errors.Is(err, tpm2.TPMRCAttributes) {
		t.Fatalf("TPM2_Duplicate of a fixedParent key that has the policy: %v, want TPM_RC_ATTRIBUTES", err)
	}

	tmpl := keyTemplate
	tmpl.ObjectAttributes.FixedTPM, tmpl.ObjectAttributes.FixedParent = false, false
	tmpl.AuthPolicy = tpm2.TPM2BDigest{Buffer: policy}
	ctl, err := tpm2.CreateLoaded{ParentHandle: parent, InPublic: tpm2.New2BTemplate(&tmpl)}.Execute(k.tpm)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: ctl.ObjectHandle}.Execute(k.tpm)
	dup, err := duplicate(k.tpm, ctl.ObjectHandle, ctl.Name)
	if err != nil {
		t.Fatalf("the control key was not exported either: %v", err)
	}
	if len(dup.Duplicate.Buffer) == 0 {
		t.Fatal("the control key's export is empty")
	}
	// A key file describing such a key is refused on open.
	if _, err := parseBlob(encodeBlob(ctl.OutPublic.Bytes(), []byte{1})); err == nil || !strings.Contains(err.Error(), "attributes") {
		t.Fatalf("a key file of a duplicable key: %v", err)
	}
}

// dupPolicy is the digest of the policy "TPM2_Duplicate may be run".
func dupPolicy(t *testing.T, tp transport.TPM) []byte {
	t.Helper()
	s, cleanup, err := tpm2.PolicySession(tp, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if _, err := (tpm2.PolicyCommandCode{PolicySession: s.Handle(), Code: tpm2.TPMCCDuplicate}).Execute(tp); err != nil {
		t.Fatal(err)
	}
	d, err := tpm2.PolicyGetDigest{PolicySession: s.Handle()}.Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	return d.PolicyDigest.Buffer
}

// Copying the key file copies nothing usable: another TPM (another seed,
// so another storage key) refuses to load it, while the TPM that made it
// still does.
func TestTPMKeyFileUselessOnAnotherTPM(t *testing.T) {
	p1, p2 := tpmtest.Start(t), tpmtest.Start(t)
	cfg1 := tpmConfig(p1, filepath.Join(t.TempDir(), "k"))
	k1 := openTPMKey(t, cfg1)
	pub1 := k1.pub
	k1.Close()

	stolen := filepath.Join(t.TempDir(), "stolen")
	data, err := os.ReadFile(cfg1.TPMKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stolen, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), tpmConfig(p2, stolen))
	if err == nil {
		t.Fatal("another TPM loaded the copied key file")
	}
	if !errors.Is(err, tpm2.TPMRCIntegrity) || !strings.Contains(err.Error(), "not made by this TPM") {
		t.Fatalf("another TPM: %v, want an integrity failure", err)
	}
	if b, _ := os.ReadFile(stolen); string(b) != string(data) {
		t.Fatal("the refused key file was changed")
	}
	k := openTPMKey(t, cfg1)
	if !k.pub.Equal(pub1) {
		t.Fatal("the first TPM no longer loads its key")
	}
}

func TestTPMOpenErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "tpm0")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  config.Identity
		want string
	}{
		{"tpm without device", config.Identity{Kind: "tpm", TPMDevice: filepath.Join(dir, "tpmrm0"), TPMKeyFile: filepath.Join(dir, "t")}, "identity.tpm_device"},
		{"device under a file", config.Identity{Kind: "tpm", TPMDevice: "/dev/null/x", TPMKeyFile: filepath.Join(dir, "t")}, "identity.tpm_device"},
		{"device a regular file", config.Identity{Kind: "tpm", TPMDevice: regular, TPMKeyFile: filepath.Join(dir, "t")}, "not a device"},
		{"auto, device a regular file", config.Identity{Kind: "auto", TPMDevice: regular, TPMKeyFile: filepath.Join(dir, "t"), KeyFile: filepath.Join(dir, "f")}, "identity.tpm_device"},
		{"nothing listening", config.Identity{Kind: "tpm", TPMAddress: "127.0.0.1:1", TPMKeyFile: filepath.Join(dir, "t")}, "identity.tpm_address"},
		{"unknown kind", config.Identity{Kind: "hsm"}, "identity.kind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Open(context.Background(), tc.cfg)
			if err == nil {
				k.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
	for _, f := range []string{"t", "f"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Fatal("a failed open wrote a key file")
		}
	}
}

func TestOpenCancelled(t *testing.T) {
	p := tpmtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if k, err := Open(ctx, tpmConfig(p, filepath.Join(t.TempDir(), "k"))); err == nil {
		k.Close()
		t.Fatal("opened with a cancelled context")
	}
}

// auto takes the TPM when one is configured or present, the file
// otherwise, and never falls back to a file once a TPM key exists.
func TestAuto(t *testing.T) {
	p := tpmtest.Start(t)
	dir := t.TempDir()
	cfg := config.Identity{Kind: config.IdentityAuto, TPMDevice: filepath.Join(dir, "tpmrm0"), TPMKeyFile: filepath.Join(dir, "identity.tpmkey"), KeyFile: filepath.Join(dir, "identity.pem")}

	k, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind() != KindFile || !k.Kind().Weaker() {
		t.Fatalf("auto without a TPM: %s", k.Kind())
	}
	k.Close()

	withTPM := cfg
	withTPM.TPMAddress = p.Addr
	k = openTPMKey(t, withTPM)
	k.Close()

	// The TPM is gone (a driver that failed, a swapped board): no silent
	// downgrade to the file key.
	_, err = Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "identity.tpm_device") || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("auto with a TPM key and no TPM: %v", err)
	}
}
