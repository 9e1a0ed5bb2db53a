package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eid runs guichet with args and returns the exit status and outputs.
func eid(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(append([]string{"eid"}, args...), &out, &errb)
	return rc, out.String(), errb.String()
}

func TestEIDIssueVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	trust := []string{"--root", filepath.Join(dir, "root.pem"), "--keys", filepath.Join(dir, "keyset.cose"), "--revocations", filepath.Join(dir, "revocations.cose")}
	verify := func(extra ...string) (int, map[string]any, string) {
		t.Helper()
		rc, out, errs := eid(t, append(append([]string{"verify"}, trust...), extra...)...)
		var v map[string]any
		if out != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
		}
		return rc, v, errs
	}

	rc, code, errs := eid(t, "issue", "--dir", dir, "--alg", "EdDSA", "--level", "limited", "--subject", "PSEUDO1", "--name", "ZHANG Xiaoming")
	if rc != 0 {
		t.Fatalf("issue: exit %d: %s", rc, errs)
	}
	code = strings.TrimSpace(code)
	if !strings.HasPrefix(code, "GEID1:") {
		t.Fatalf("issue printed %q", code)
	}
	rc, v, errs := verify(code)
	if rc != 0 || v["valid"] != true || v["reason"] != "" || v["level"] != "limited" || v["subject"] != "PSEUDO1" || len(v["kid"].(string)) != 16 {
		t.Fatalf("verify: exit %d %v %s", rc, v, errs)
	}
	if exp, err := time.Parse(time.RFC3339, v["expires"].(string)); err != nil || time.Until(exp) < 23*time.Hour {
		t.Fatalf("expires %v: %v", v["expires"], err)
	}
	if strings.Contains(errs, "ZHANG") || v["name"] != nil {
		t.Fatalf("the name leaked into the verdict: %v %s", v, errs)
	}

	// "-" reads the code from standard input, as piped from zbarimg --raw.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = stdin })
	go func() { w.WriteString(code + "\n"); w.Close() }()
	if rc, v, errs = verify("-"); rc != 0 || v["valid"] != true {
		t.Fatalf("verify -: exit %d %v %s", rc, v, errs)
	}
	os.Stdin = stdin
	r.Close()

	// Refusals exit 1 with the reason in the JSON and on standard error.
	rc, v, errs = verify("--require", "full", code)
	if rc != 1 || v["valid"] != false || v["reason"] != "wrong_level" || v["level"] != "limited" || !strings.HasSuffix(strings.TrimSpace(errs), "guichet eid: refused: wrong_level") {
		t.Fatalf("require full: exit %d %v %s", rc, v, errs)
	}
	rc, v, _ = verify("--at", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), code)
	if rc != 1 || v["reason"] != "expired" {
		t.Fatalf("two days later: exit %d %v", rc, v)
	}
	rc, v, _ = verify(code[:len(code)-3] + "AAA")
	if rc != 1 || v["valid"] != false || v["reason"] == "" {
		t.Fatalf("altered: exit %d %v", rc, v)
	}
	rc, v, _ = verify("HC1:6BF")
	if rc != 1 || v["reason"] != "bad_prefix" {
		t.Fatalf("DCC: exit %d %v", rc, v)
	}

	// Issued revoked: the second code is refused, the first still passes.
	rc, revoked, errs := eid(t, "issue", "--dir", dir, "--revoke")
	if rc != 0 {
		t.Fatalf("issue --revoke: exit %d: %s", rc, errs)
	}
	if rc, v, _ = verify(strings.TrimSpace(revoked)); rc != 1 || v["reason"] != "revoked" || v["revocations_as_of"] == nil {
		t.Fatalf("revoked: exit %d %v", rc, v)
	}
	if rc, v, _ = verify(code); rc != 0 {
		t.Fatalf("first code after a revocation: exit %d %v", rc, v)
	}

	// Another platform's code: unknown key.
	rc, other, _ := eid(t, "issue", "--dir", filepath.Join(t.TempDir(), "other"))
	if rc != 0 {
		t.Fatal("issue on another platform failed")
	}
	if rc, v, _ = verify(strings.TrimSpace(other)); rc != 1 || v["reason"] != "unknown_kid" {
		t.Fatalf("other platform: exit %d %v", rc, v)
	}
	// Issued in the past, before the demo key's period: refused for the key.
	if rc, old, errs := eid(t, "issue", "--dir", dir, "--at", "2001-01-01T00:00:00Z"); rc != 0 {
		t.Fatalf("issue --at: exit %d %s", rc, errs)
	} else if rc, v, _ = verify(strings.TrimSpace(old)); rc != 1 || v["reason"] != "key_not_valid" {
		t.Fatalf("issued in 2001: exit %d %v", rc, v)
	}
}

func TestEIDUsage(t *testing.T) {
	if rc, out, _ := eid(t, "--help"); rc != 0 || !strings.Contains(out, "eid verify") || !strings.Contains(out, "eid issue") {
		t.Fatalf("--help: exit %d\n%s", rc, out)
	}
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"verify"},
		{"verify", "a", "b"},
		{"verify", "--require", "gold", "GEID1:"},
		{"verify", "--at", "yesterday", "GEID1:"},
		{"issue"},
		{"issue", "--dir", t.TempDir(), "--alg", "RS256"},
		{"issue", "--dir", t.TempDir(), "--level", "gold"},
	} {
		if rc, _, errs := eid(t, args...); rc != 2 {
			t.Errorf("eid %q: exit %d, want 2 (%s)", args, rc, errs)
		}
	}
	// Missing trust files: an error, exit 1, no verdict.
	if rc, out, errs := eid(t, "verify", "--root", filepath.Join(t.TempDir(), "none.pem"), "GEID1:"); rc != 1 || out != "" || !strings.Contains(errs, "root key") {
		t.Fatalf("missing root: exit %d %q %q", rc, out, errs)
	}
}
