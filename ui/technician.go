package ui

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guichet/guichet/internal/atomicfile"
)

// TechnicianTokenFile is the file, in the state directory, of the token
// that the technician's routes require (Server.TechnicianToken). Only root
// can read it, so only a technician with a shell on the appliance
// (guichet official set-pin) can enrol an official, not someone at the
// counter's browser.
const TechnicianTokenFile = "technician.token"

// LoadTechnicianToken returns the technician's token kept in stateDir,
// creating it on the first start.
func LoadTechnicianToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, TechnicianTokenFile)
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return string(bytes.TrimSpace(b)), nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("technician token: %w", err)
	}
	return tok, nil
}
