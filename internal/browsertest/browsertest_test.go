package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestStartRendersAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>x</title><p id="p">hello</p><script>document.getElementById("p").textContent += " from js"</script>`)
	}))
	defer srv.Close()
	b := Start(t)
	tab := b.Tab(t)
	var text string
	var width, height int
	Run(t, tab, 20*time.Second, "load page",
		chromedp.Navigate(srv.URL),
		chromedp.Text("#p", &text, chromedp.ByQuery),
		chromedp.Evaluate(`window.innerWidth`, &width),
		chromedp.Evaluate(`window.innerHeight`, &height))
	if text != "hello from js" {
		t.Fatalf("page text %q: scripts did not run", text)
	}
	if width != Width || height != Height {
		t.Fatalf("page is %dx%d, want %dx%d", width, height, Width, Height)
	}
	// A second tab shares the browser.
	tab2 := b.Tab(t)
	Run(t, tab2, 20*time.Second, "load page in second tab", chromedp.Navigate(srv.URL), chromedp.Text("#p", &text, chromedp.ByQuery))
}
