package ui

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/claim"
)

// The technician's page of enrolment (tech-provision.html): the same
// enrolment by one-time code as `guichet provision` (package provision),
// the code typed, pasted or scanned (the QR code that guichet-platform
// enrol-code prints, read by the appliance's scanners or camera). The
// daemon's link was set up at start with the credentials it had, so the
// new enrolment is used after a restart of guichetd, which the page says.

// Provisioner enrols the appliance for the technician's page.
type Provisioner struct {
	// Key is the identity key, RecordKey the public half of the key that
	// signs records; StateDir is where the enrolment is written.
	Key       provision.Key
	RecordKey ed25519.PublicKey
	StateDir  string
	// Device is the name the box asks for (device.id, else the host
	// name).
	Device string
	// Broker is the default provisioning broker shown on the page.
	Broker string
	// Timeout bounds an enrolment (default 30 s).
	Timeout time.Duration
	// AllowPlain allows a tcp:// broker, for tests only.
	AllowPlain bool

	mu sync.Mutex // one enrolment at a time
}

// ProvisionRequest is the body of POST /api/tech/provision.
type ProvisionRequest struct {
	Code string `json:"code"`
	// Broker is the provisioning broker, ssl://host:port.
	Broker string `json:"broker"`
	// CAFile is a PEM file on the appliance with the CA of the
	// provisioning broker's certificate (empty: the system's roots).
	CAFile string `json:"ca_file"`
	// Force enrols again over an existing enrolment, as --force.
	Force bool `json:"force"`
}

// maxScanned bounds what a scan or a paste may hold to be read as a code.
const maxScanned = 128

// ParseEnrolCode reads an enrolment code as it comes from a scanner, a
// paste or the keyboard: surrounding spaces and control characters (a
// scanner's CR or LF) are dropped, and so is an AIM symbology identifier
// (]Q1 for a QR code) that some scanners put first; what is left is read
// by claim.ParseCode, forgiving of case, dashes and look-alike letters.
func ParseEnrolCode(s string) (claim.Code, error) {
	if len(s) > maxScanned {
		return "", errors.New("code: too long to be an enrolment code")
	}
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	if len(s) >= 3 && s[0] == ']' && s[1] >= 'A' && s[1] <= 'z' && s[2] >= '0' && s[2] <= '9' {
		s = strings.TrimSpace(s[3:])
	}
	if s == "" {
		return "", errors.New("code: empty")
	}
	c, err := claim.ParseCode(s)
	if err != nil {
		return "", fmt.Errorf("code: %w", err)
	}
	return c, nil
}

// provisionAnswer is the answer of POST /api/tech/provision and GET
// /api/tech/provision.
type provisionAnswer struct {
	Enrolled bool   `json:"enrolled"`
	Tenant   string `json:"tenant,omitempty"`
	Site     string `json:"site,omitempty"`
	Role     string `json:"role,omitempty"`
	Device   string `json:"device,omitempty"`
	KeyKind  string `json:"key,omitempty"`
	// Restart: the daemon uses the new enrolment after a restart.
	Restart bool   `json:"restart,omitempty"`
	Broker  string `json:"broker,omitempty"`
	// Problem names a refusal for the page's texts: bad_code, enrolled,
	// refused, unreachable, untrusted, no_answer, busy, bad_request.
	Problem string `json:"problem,omitempty"`
	Error   string `json:"error,omitempty"`
}

// techProvisionRoutes adds GET and POST /api/tech/provision and GET
// /api/tech/scans (the codes the scanners read, for the page), for a
// technician only.
func (s *Server) techProvisionRoutes(mux *http.ServeMux) {
	if s.Provision == nil {
		return
	}
	p := s.Provision
	if s.Scans != nil {
		mux.HandleFunc("GET /api/tech/scans", s.technician(s.scans))
	}
	mux.HandleFunc("GET /api/tech/provision", s.technician(func(w http.ResponseWriter, r *http.Request) {
		a := provisionAnswer{Broker: p.Broker, Device: p.Device}
		if e, err := provision.LoadEnrolment(p.StateDir); err == nil {
			a = provisionAnswer{Enrolled: true, Tenant: e.Tenant, Site: e.Site, Role: e.Role, Device: e.Device, KeyKind: string(e.KeyKind), Broker: p.Broker}
		}
		writeJSON(w, http.StatusOK, a)
	}))
	mux.HandleFunc("POST /api/tech/provision", s.technician(func(w http.ResponseWriter, r *http.Request) {
		var req ProvisionRequest
		if !decode(w, r, &req) {
			return
		}
		fail := func(code int, problem string, err error) {
			writeJSON(w, code, provisionAnswer{Problem: problem, Error: err.Error()})
		}
		code, err := ParseEnrolCode(req.Code)
		if err != nil {
			fail(http.StatusBadRequest, "bad_code", err)
			return
		}
		broker := strings.TrimSpace(req.Broker)
		if broker == "" {
			broker = p.Broker
		}
		var pool *x509.CertPool
		if req.CAFile != "" {
			pem, err := os.ReadFile(req.CAFile)
			if err != nil {
				fail(http.StatusBadRequest, "bad_request", fmt.Errorf("ca_file: %w", err))
				return
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				fail(http.StatusBadRequest, "bad_request", fmt.Errorf("ca_file: no PEM certificate in %s", req.CAFile))
				return
			}
		}
		if !p.mu.TryLock() {
			fail(http.StatusConflict, "busy", errors.New("provision: an enrolment is running"))
			return
		}
		defer p.mu.Unlock()
		timeout := p.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		extendWrite(w, timeout+10*time.Second)
		e, err := provision.Enrol(r.Context(), provision.Options{Broker: broker, CA: pool, Code: code.String(), Device: p.Device,
			Key: p.Key, RecordKey: p.RecordKey, StateDir: p.StateDir, Force: req.Force, Timeout: timeout, AllowPlain: p.AllowPlain,
			Logger: s.log()})
		if err != nil {
			code, problem := provisionProblem(err)
			s.log().Warn("enrolment from the technician's page failed", "why", problem, "err", err, "by", callerName(r))
			fail(code, problem, err)
			return
		}
		s.log().Info("enrolled from the technician's page", "tenant", e.Tenant, "device", e.Device, "site", e.Site, "role", e.Role, "by", callerName(r))
		writeJSON(w, http.StatusOK, provisionAnswer{Enrolled: true, Tenant: e.Tenant, Site: e.Site, Role: e.Role, Device: e.Device,
			KeyKind: string(p.Key.Kind()), Restart: true, Broker: broker})
	}))
}

// provisionProblem maps an enrolment's error to a status and a name.
func provisionProblem(err error) (int, string) {
	var refused *claim.RefusedError
	var unknownCA x509.UnknownAuthorityError
	switch {
	case errors.Is(err, provision.ErrEnrolled):
		return http.StatusConflict, "enrolled"
	case errors.As(err, &refused):
		return http.StatusUnprocessableEntity, "refused"
	case errors.As(err, &unknownCA):
		return http.StatusBadGateway, "untrusted"
	case errors.Is(err, provision.ErrNoAnswer):
		return http.StatusGatewayTimeout, "no_answer"
	case strings.Contains(err.Error(), "provision: connect"):
		return http.StatusBadGateway, "unreachable"
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "cancelled"
	}
	return http.StatusBadRequest, "bad_request"
}
