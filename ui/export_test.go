package ui

// Exported for the tests of package ui_test.
var (
	AllowedHost = allowedHost
	SameOrigin  = sameOrigin
)
