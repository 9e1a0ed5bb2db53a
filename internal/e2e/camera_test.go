package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/brokertest"
)

// TestCameraCodeReachesTheCashier runs the daemon with the simulated camera
// playing the demo's frame of a phone showing a payment code, and checks
// that the decoded code reaches the cashier's page and pays.
func TestCameraCodeReachesTheCashier(t *testing.T) {
	r := NewRig(t)
	frames := filepath.Join(brokertest.Root(t), "deploy/demo/frames")
	conf, err := os.ReadFile(r.DevConf)
	if err != nil {
		t.Fatal(err)
	}
	conf = append(conf, fmt.Sprintf("devices: {code_readers: [{driver: camera, options: {camera: folder, camera_options: {path: %q, fps: 5}, dedupe: 30s}}]}\n", frames)...)
	write(t, r.DevConf, string(conf))
	r.StartPlatform()
	r.StartDaemon()
	var scan struct {
		N    int `json:"n"`
		Code struct {
			Format string `json:"format"`
			Text   string `json:"text"`
			Source string `json:"source"`
		} `json:"code"`
	}
	r.Eventually(20*time.Second, "a code from the camera", func() bool {
		resp, err := r.Local().Get(LocalURL("/api/scans?after=0"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&scan) == nil && scan.N > 0
	})
	if scan.Code.Format != "QR_CODE" || scan.Code.Text != goodCode || scan.Code.Source != "camera" {
		t.Fatalf("scanned %+v, want the QR code %s from the camera", scan.Code, goodCode)
	}
	r.Eventually(10*time.Second, "link up", func() bool { return r.Status().Link.Connected })
	if p := r.Pay("8.80", scan.Code.Text); p.Status != "approved" {
		t.Fatalf("payment with the scanned code: %+v", p)
	}
}
