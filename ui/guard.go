package ui

import (
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The local API serves the pages of the kiosk browser on the same machine
// and nobody else. A page from elsewhere open in that browser (an ad, a
// link the cashier followed) can still send requests to 127.0.0.1: these
// checks refuse them before any route runs (docs/security.md).

// allowedHost says whether a request's Host names this appliance: an IP
// literal, localhost, or one of hosts. A DNS name that an attacker's
// server rebinds to 127.0.0.1 is none of these, so its pages, whose
// requests carry that name, are refused.
func allowedHost(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
		// A bare IPv6 literal without brackets is no Host header.
		if _, err := netip.ParseAddr(hostport); err != nil {
			return false
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return !strings.Contains(host, "%") // no zone: nothing names an interface here
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	for _, h := range hosts {
		if h != "" && strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// sameOrigin says whether a request's Origin is the appliance's own page,
// that is http(s) and the Host the request was sent to. "null" (a sandboxed
// frame, a file) is not.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// isJSON says whether a Content-Type is application/json, with or without
// parameters. A form or text/plain body, which a page of any origin may
// send without asking, is not.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// safeMethod says whether a method only reads.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// guard refuses, before any route, a request whose Host is not the
// appliance's (DNS rebinding), an API request from another origin, and a
// state-changing request that is not JSON.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host, s.Hosts) {
			s.refuse(w, r, http.StatusMisdirectedRequest, "host: this appliance does not answer to "+r.Host)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
				s.refuse(w, r, http.StatusForbidden, "origin: requests from another page are refused")
				return
			}
			// A request from another site without an Origin (an image, a
			// script, a navigation): the browser says where it comes from.
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				s.refuse(w, r, http.StatusForbidden, "origin: requests from another site are refused")
				return
			}
		}
		if !safeMethod(r.Method) && !isJSON(r.Header.Get("Content-Type")) {
			s.refuse(w, r, http.StatusUnsupportedMediaType, "request: the API takes application/json only")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers a refused request and logs it without its content.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.log().Warn("request refused", "method", r.Method, "path", r.URL.Path, "status", code, "why", msg)
	writeJSON(w, code, apiError{msg})
}

// log is the server's logger, or one that discards when none is set.
func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
