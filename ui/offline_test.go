package ui_test

import (
	"fmt"
	"testing"
	"time"
)

// TestOfflineDecisionsInBrowser: with the platform down, the cashier gets a
// decision, never "queued": approved offline within the limits, declined
// "offline, over the limit" beyond them, each said in the three languages.
//
//	go test ./ui -run TestOfflineDecisionsInBrowser -screens
func TestOfflineDecisionsInBrowser(t *testing.T) {
	r := newRig(t, time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	r.stopPlatform()

	// The rig's limits: 100.00 a payment, 1000.00 in all.
	cashier.pay("66.60", codeOK)
	cashier.waitResult("approved_offline", 10*time.Second)
	text := map[string]string{"zh": "离线批准", "en": "Approved offline", "fr": "Approuvé hors ligne"}
	inLanguages(t, cashier, "cashier-offline-approved", func(l string) string {
		return fmt.Sprintf(`document.getElementById("result").textContent.startsWith(%q)`, text[l])
	})

	cashier.pay("150.00", codeOK)
	got := cashier.waitResult("declined", 10*time.Second)
	reason := map[string]string{"zh": "离线，超出限额", "en": "offline, over the limit", "fr": "hors ligne, au-delà de la limite"}
	inLanguages(t, cashier, "cashier-offline-over-limit", func(l string) string {
		return fmt.Sprintf(`document.getElementById("result").textContent.includes(%q)`, reason[l])
	})
	if got == "" {
		t.Fatal("no result text")
	}
	// The recent list says what the cashier was told: both decisions,
	// neither "queued" (the page is in French after the last shot).
	cashier.waitFor(`(() => { const rows = [...document.querySelectorAll("#recent tbody tr")].map(r => r.textContent);
		return rows.length >= 2 && rows.some(r => r.includes("Approuvé hors ligne")) && !rows.some(r => r.includes("Enregistré, en attente du réseau")); })()`,
		5*time.Second, "both decisions in the recent list, none queued")
}
