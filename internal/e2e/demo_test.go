package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/brokertest"
)

// TestDemoScript runs deploy/demo/demo.sh, as `make demo` does, and uses what
// it prints: a payment on the cashier's API, an activation at the e-ID
// counter with the demo official, and the demo's e-ID code verified. Ctrl-C
// (SIGINT) must stop it cleanly.
func TestDemoScript(t *testing.T) {
	root := brokertest.Root(t)
	state := t.TempDir()
	port := brokertest.FreePort(t)
	cmd := exec.Command(filepath.Join(root, "deploy/demo/demo.sh"))
	cmd.Env = append(os.Environ(), "STATE="+state, fmt.Sprintf("UI_PORT=%d", port), "BIN="+binDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		stopped <- cmd.Wait()
	}()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	var printed []string
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before it ran: %s\n%s", strings.Join(printed, "\n"), stderr.String())
			}
			printed = append(printed, l)
			if strings.Contains(l, "Ctrl-C stops everything") {
				break wait
			}
		case <-deadline:
			t.Fatalf("the demo did not start: %s\n%s", strings.Join(printed, "\n"), stderr.String())
		}
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if !strings.Contains(strings.Join(printed, "\n"), base+"/eid.html") {
		t.Fatalf("the demo does not show the e-ID counter:\n%s", strings.Join(printed, "\n"))
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path, token string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}

	// The cashier signs in with the PIN the demo prints.
	if !strings.Contains(strings.Join(printed, "\n"), "cashier demo-cashier, PIN 135790") {
		t.Fatalf("the demo does not show the cashier's PIN:\n%s", strings.Join(printed, "\n"))
	}
	if code, m := post("/api/signin", "", map[string]string{"cashier": "demo-cashier", "pin": "135790"}); code != http.StatusOK {
		t.Fatalf("demo cashier sign-in: %d %v", code, m)
	}
	// The cashier: the code the README suggests is approved.
	var pay map[string]any
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, pay = post("/api/pay", "", map[string]string{"amount": "12.34", "code": goodCode}); pay["status"] == "approved" {
			break
		}
	}
	if pay["status"] != "approved" {
		t.Fatalf("demo payment: %v", pay)
	}

	// The shop's QR code, paid with the demo's pay-qr as the customer's
	// wallet would: the till is notified and the order is paid.
	code, qr := post("/api/qr", "", map[string]string{"amount": "8.80"})
	ref, _ := qr["ref"].(string)
	if code != http.StatusOK || ref == "" {
		t.Fatalf("demo QR order: %d %v", code, qr)
	}
	if out, err := exec.Command(filepath.Join(state, "pay-qr"), ref).CombinedOutput(); err != nil || !strings.Contains(string(out), "till notified: applied") {
		t.Fatalf("pay-qr %s: %v\n%s", ref, err, out)
	}
	resp, err := client.Get(base + "/api/qr/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&qr)
	resp.Body.Close()
	if qr["status"] != "paid" {
		t.Fatalf("the demo's QR order after pay-qr: %v", qr)
	}

	// The e-ID counter with the demo official.
	code, in := post("/api/eid/signin", "", map[string]string{"official": "demo-official", "pin": "246810"})
	tok, _ := in["token"].(string)
	if code != http.StatusOK || tok == "" {
		t.Fatalf("demo official sign-in: %d %v", code, in)
	}
	for _, p := range []string{"/api/eid/begin", "/api/eid/card"} {
		if code, m := post(p, tok, nil); code != http.StatusOK {
			t.Fatalf("%s: %d %v", p, code, m)
		}
	}
	var step string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end) && (step == "" || step == "face"); time.Sleep(300 * time.Millisecond) {
		resp, err := http.Get(base + "/api/eid/screen")
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Screen struct {
				Step       string `json:"step"`
				CanConfirm bool   `json:"can_confirm"`
			} `json:"screen"`
		}
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		step = s.Screen.Step
		if step == "review" && !s.Screen.CanConfirm {
			t.Fatalf("the demo citizen cannot be confirmed: %+v", s)
		}
	}
	if code, m := post("/api/eid/confirm", tok, nil); code != http.StatusOK {
		t.Fatalf("confirm (after step %q): %d %v", step, code, m)
	}

	// The e-ID code the demo wrote verifies with the lists it pushed.
	text, err := os.ReadFile(filepath.Join(state, "eid-code.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var verdict map[string]any
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, verdict = post("/api/eid/verify", "", map[string]string{"text": strings.TrimSpace(string(text))}); verdict["valid"] == true {
			break
		}
	}
	if verdict["valid"] != true {
		t.Fatalf("the demo's e-ID code: %v", verdict)
	}

	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-C did not stop the demo")
	}
	for l := range lines {
		printed = append(printed, l)
	}
	if !strings.Contains(strings.Join(printed, "\n"), "demo: stopped") {
		t.Fatalf("the demo did not say it stopped:\n%s\n%s", strings.Join(printed, "\n"), stderr.String())
	}
}
