//go:build noopencv

package ui

import "net/http"

// Counter would be the e-ID counter's flow; a build without OpenCV (tag
// noopencv) has no e-ID counter, so nothing implements it and the
// official's routes are not served.
type Counter interface{ withoutOpenCV() }

// counterRoutes serves nothing: there is no counter in this build.
func (s *Server) counterRoutes(*http.ServeMux) {}

// techOfficialRoutes serves nothing: no counter, no officials.
func (s *Server) techOfficialRoutes(*http.ServeMux) {}
