// Package shared finds the test data written by others, kept in the folder
// shared/ beside the project's clone (../shared from the module root), or
// where $GUICHET_SHARED points.
package shared

import (
	"os"
	"path/filepath"
)

// Testdata returns the path of elem under shared/testdata.
func Testdata(elem ...string) string {
	return filepath.Join(append([]string{Dir(), "testdata"}, elem...)...)
}

// Dir returns the shared folder: $GUICHET_SHARED, or ../shared from the
// module root found above the working directory (tests run in their
// package's folder).
func Dir() string {
	if d := os.Getenv("GUICHET_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return "../shared"
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "../shared"
		}
		dir = parent
	}
}
