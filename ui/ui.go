// Package ui is the appliance's local web UI and the local API behind it:
// the cashier's screen, the customer-facing screen and the technician's
// status page, in Chinese, English and French. The guichet command line
// uses the same API over a Unix socket (LocalHandler), so a script and a
// cashier take a payment by the same path. The browser's side serves only
// the appliance's own pages and a signed-in cashier (guard.go, session.go;
// docs/security.md).
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/logring"
	"github.com/guichet/guichet/internal/qr"
)

//go:embed assets
var assets embed.FS

// Checkout is the payment flow as the UI uses it.
type Checkout interface {
	Pay(ctx context.Context, amount int64, code string) (*checkout.Payment, error)
	Get(ctx context.Context, id string) (*checkout.Payment, error)
	Recent(ctx context.Context, n int) ([]checkout.Payment, error)
}

// Screen is the customer display's current content.
type Screen interface {
	Current() (display.Screen, uint64, <-chan struct{})
}

// Server serves the UI.
type Server struct {
	Checkout Checkout
	// Currency is the till's ISO 4217 code: amounts typed by the cashier
	// are read in its minor units (no decimals for JPY, three for BHD).
	Currency string
	Screen   Screen
	// Status returns what `guichet status` and the technician page show.
	Status func() any
	// SyncNow asks the link to send the queue now.
	SyncNow func()
	// QR makes the shop's dynamic QR codes as orders, which the customer
	// display shows; nil leaves the routes out.
	QR QROrders
	// Till serves refunds, voids, receipts, split bills and reports; nil
	// leaves those routes out.
	Till Till
	// Receipts prints receipts on paper; nil (no printer) leaves the
	// route out.
	Receipts Receipts
	// Cash takes cash sales, Finder finds a payment by its receipt's
	// reference or in the day's list (cash.go); nil leaves their routes
	// out.
	Cash   Cash
	Finder Finder
	// Counter is the e-ID counter's flow for the official's page; nil
	// leaves those routes out.
	Counter Counter
	// Officials and TechnicianToken serve the technician's route that
	// enrols officials; it is left out unless both are set.
	Officials       Officials
	TechnicianToken string
	// Verifier checks e-ID QR codes; nil leaves the route out.
	Verifier Verifier
	// SelfTest runs the self-test (selftest.go); nil leaves its route out.
	SelfTest SelfTest
	// Scans are codes read by the scanners and cameras, for the cashier.
	Scans *Scans
	// Languages offered, the first being the default.
	Languages []string
	Log       *slog.Logger
	// Staff are the cashiers and supervisors who sign in; nil leaves
	// sign-in out, and then only the socket can take payments.
	Staff Staff
	// IdleSignOut ends a session after this long without an action, a
	// state-changing request (default DefaultIdleSignOut).
	IdleSignOut time.Duration
	// Hosts are names besides localhost and IP literals that the
	// appliance answers to in the Host header (the listen address's).
	Hosts []string
	// Tamper is the tamper switch's lock; nil leaves its routes out.
	Tamper Tamper
	// Audit is the store's audit log, where the technician's changes to
	// the accounts are entered (techstaff.go); nil audits nothing.
	Audit Audit
	// Clock is the time of the sessions (default time.Now), for tests.
	Clock func() time.Time
	// Logs are the daemon's last log records, redacted, for the
	// technician's page of logs; nil leaves its route out.
	Logs *logring.Ring
	// Queue lists and moves past the rejected records for the
	// technician (techlogs.go); nil leaves its routes out.
	Queue Queue
	// Firmware updates the peripherals' firmware for the technician
	// (techfirmware.go); nil: the page says no peripheral takes one.
	Firmware *Firmware
	// Provision enrols the appliance from the technician's page
	// (techprovision.go); nil leaves its routes out.
	Provision *Provisioner

	sessOnce sync.Once
	sess     *sessions
}

// Handler returns the HTTP handler of the UI and API for the browser: it
// refuses a foreign Host or Origin and a state-changing request that is not
// JSON, and the API needs a cashier's session but for the public routes.
func (s *Server) Handler() http.Handler {
	return securityHeaders(s.guard(s.needSession(s.mux())))
}

// mux returns the routes, without the checks of who may call them.
func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("POST /api/pay", s.pay)
	mux.HandleFunc("GET /api/payments", s.recent)
	mux.HandleFunc("GET /api/payments/{id}", s.payment)
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("POST /api/sync", s.sync)
	mux.HandleFunc("GET /api/display", s.display)
	mux.HandleFunc("GET /api/scans", s.scans)
	mux.HandleFunc("GET /api/display/qr.png", s.displayQR)
	s.tillRoutes(mux)
	s.printRoutes(mux)
	s.cashRoutes(mux)
	s.eidRoutes(mux)
	s.selfTestRoutes(mux)
	if s.QR != nil {
		mux.HandleFunc("POST /api/qr", s.merchantQR)
		mux.HandleFunc("GET /api/qr/{ref}", s.qrOrder)
		mux.HandleFunc("POST /api/qr/{ref}/cancel", s.qrCancel)
	}
	s.sessionRoutes(mux)
	s.techRoutes(mux)
	s.techStaffRoutes(mux)
	s.tamperRoutes(mux)
	s.techLogRoutes(mux)
	s.techFirmwareRoutes(mux)
	s.techProvisionRoutes(mux)
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"languages": s.Languages, "counter": s.Counter != nil, "verifier": s.Verifier != nil, "printer": s.Receipts != nil,
			"signin": s.Staff != nil})
	})
	return mux
}

// securityHeaders keeps the kiosk page from being framed or fed scripts
// from elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// Timeouts of the server, which bound what a slow or stuck client holds.
// The long polls and the card reading take longer than WriteTimeout: they
// set their own deadline (extendWrite).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// extendWrite gives a response that waits by design its own deadline.
func extendWrite(w http.ResponseWriter, d time.Duration) {
	// An httptest recorder has no deadline to move: nothing to do.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}

// Serve serves the browser's handler on l until ctx ends, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serve(ctx, l, s.Handler(), nil)
}

// ServeLocal serves the Unix socket's handler on l (LocalHandler), with
// the peer's credentials for the audit.
func (s *Server) ServeLocal(ctx context.Context, l net.Listener) error {
	return serve(ctx, l, s.LocalHandler(), peerContext)
}

func serve(ctx context.Context, l net.Listener, h http.Handler, connContext func(context.Context, net.Conn) context.Context) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ConnContext: connContext}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// PayRequest is the body of POST /api/pay.
type PayRequest struct {
	Amount string `json:"amount"` // decimal, "12.34"
	Code   string `json:"code"`
}

func (s *Server) pay(w http.ResponseWriter, r *http.Request) {
	var req PayRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"request: " + err.Error()})
		return
	}
	amount, err := checkout.ParseAmount(req.Amount, s.Currency)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	// The flow waits for the platform up to checkout.wait_online (at
	// most a minute).
	extendWrite(w, 90*time.Second)
	p, err := s.Checkout.Pay(r.Context(), amount, req.Code)
	switch {
	case errors.Is(err, checkout.ErrInput), errors.Is(err, checkout.ErrNeedsNetwork):
		writeErr(w, err)
	case err != nil:
		s.Log.Error("pay", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (s *Server) payment(w http.ResponseWriter, r *http.Request) {
	p, err := s.Checkout.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (s *Server) recent(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n <= 0 || n > 200 {
		n = 20
	}
	ps, err := s.Checkout.Recent(r.Context(), n)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	s.SyncNow()
	writeJSON(w, http.StatusAccepted, map[string]bool{"requested": true})
}

// display long-polls the customer screen: ?after=VERSION waits up to 25 s
// for a newer one.
func (s *Server) display(w http.ResponseWriter, r *http.Request) {
	longPoll(w, r, s.Screen.Current)
}

// longPoll answers {"version", "screen"} with the current screen once its
// version is above ?after=VERSION, waiting up to 25 s for it; a page calls
// again at once, so a change reaches it without polling.
func longPoll[T any](w http.ResponseWriter, r *http.Request, current func() (T, uint64, <-chan struct{})) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	extendWrite(w, 35*time.Second)
	scr, v, changed := current()
	if v <= after {
		select {
		case <-changed:
			scr, v, _ = current()
		case <-time.After(25 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": v, "screen": scr})
}

// scans long-polls the codes read by scanners: ?after=N waits up to 25 s
// for code number N+1 or later. Without after it answers at once with the
// current number and no code, so that a page just loaded starts from there
// and does not take an old code (perhaps already paid with) as new.
func (s *Server) scans(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("after") {
		writeJSON(w, http.StatusOK, map[string]any{"n": s.Scans.Count()})
		return
	}
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"after: want a scan number"})
		return
	}
	extendWrite(w, 35*time.Second)
	code, n, ok := s.Scans.Wait(r.Context(), after, 25*time.Second)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"n": n})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"n": n, "code": code})
}

// displayQR renders the customer screen's QR payload as a PNG.
func (s *Server) displayQR(w http.ResponseWriter, r *http.Request) {
	scr, _, _ := s.Screen.Current()
	if scr.QR == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	if err := qr.WritePNG(w, scr.QR, 8); err != nil {
		s.Log.Error("render QR", "err", err)
	}
}

// QROrders are the shop's QR orders as the UI uses them
// (*checkout.Service).
type QROrders interface {
	StartQR(ctx context.Context, amount int64) (*checkout.QROrder, error)
	GetQR(ctx context.Context, ref string) (*checkout.QROrder, error)
	CancelQR(ctx context.Context, ref string) (*checkout.QROrder, error)
}

// merchantQR makes a QR order for an amount; the order (its payload
// included) is the answer, and the customer display shows the code.
func (s *Server) merchantQR(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount string `json:"amount"`
	}
	if !decode(w, r, &req) {
		return
	}
	amount, err := checkout.ParseAmount(req.Amount, s.Currency)
	if err != nil {
		writeErr(w, err)
		return
	}
	o, err := s.QR.StartQR(r.Context(), amount)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// qrOrder answers a QR order, for the cashier's screen to follow it.
func (s *Server) qrOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.QR.GetQR(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// qrCancel cancels an open QR order.
func (s *Server) qrCancel(w http.ResponseWriter, r *http.Request) {
	o, err := s.QR.CancelQR(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}
