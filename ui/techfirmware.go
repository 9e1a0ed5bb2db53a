package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
)

// The technician's page of peripheral firmware (tech-firmware.html): the
// same update as `guichet firmware update` (firmware-bridge/dfu), run by
// the server as a job, one at a time, which the page follows with a
// progress bar. The signed release is uploaded by the page (manifest and
// image) or picked among those in Firmware.Dir, where `guichet firmware
// sign` writes IMAGE and IMAGE.manifest.

// FirmwarePeripheral is a serial peripheral whose firmware the technician
// may update.
type FirmwarePeripheral struct {
	// Name is what the page shows and asks for ("sam").
	Name string `json:"name"`
	// Port is its serial device, Baud the line's rate (0: 115200).
	Port string `json:"port"`
	Baud int    `json:"baud"`
}

// Firmware runs the firmware updates of the technician's page. Its owner
// calls Close, which cancels a running update and waits for it.
type Firmware struct {
	Peripherals []FirmwarePeripheral
	// Dir holds signed releases (IMAGE beside IMAGE.manifest); empty: the
	// page uploads them.
	Dir string
	// Options tune the dfu client (Baud is the peripheral's).
	Options dfu.Options
	// Open opens a peripheral's port; nil opens the serial device.
	Open func(p FirmwarePeripheral) (io.ReadWriteCloser, error)

	mu     sync.Mutex
	job    FirmwareJob
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// FirmwareJob is the state of the last update, GET /api/tech/firmware/job.
type FirmwareJob struct {
	// State is idle, running, done or failed.
	State      string    `json:"state"`
	Peripheral string    `json:"peripheral,omitempty"`
	Version    string    `json:"version,omitempty"`
	Phase      dfu.Phase `json:"phase,omitempty"`
	Sent       int64     `json:"sent"`
	Total      int64     `json:"total"`
	// Refusal names the peripheral's refusal (signature, downgrade,
	// class, digest...), for the page's text; Error says it in full.
	Refusal string `json:"refusal,omitempty"`
	Error   string `json:"error,omitempty"`
	// Already: the release was installed already; nothing was sent.
	Already bool      `json:"already,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
}

// maxFirmwareBody bounds an upload: a manifest and an image of at most
// maxFirmwareImage bytes, in base64 inside JSON.
const (
	maxFirmwareImage = 4 << 20
	maxFirmwareBody  = maxFirmwareImage*4/3 + 64<<10
)

// ErrFirmwareBusy is returned by Start while an update runs.
var ErrFirmwareBusy = errors.New("firmware: an update is running")

// Job returns the current or last job.
func (f *Firmware) Job() FirmwareJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.job
	if j.State == "" {
		j.State = "idle"
	}
	return j
}

// Start checks the release and starts installing it on the peripheral
// named name, in a goroutine that Close waits for.
func (f *Firmware) Start(name string, mb, image []byte) error {
	var per *FirmwarePeripheral
	for i := range f.Peripherals {
		if f.Peripherals[i].Name == name {
			per = &f.Peripherals[i]
		}
	}
	if per == nil {
		return fmt.Errorf("firmware: no peripheral %q", name)
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	if int64(len(image)) != int64(m.Size) {
		return fmt.Errorf("firmware: the image has %d bytes, its manifest says %d", len(image), m.Size)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("firmware: closed")
	}
	if f.job.State == "running" {
		return ErrFirmwareBusy
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.job = FirmwareJob{State: "running", Peripheral: per.Name, Version: m.Version.String(), Phase: dfu.PhaseConnect, Total: int64(m.Size), Started: time.Now()}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer cancel()
		f.run(ctx, *per, mb, image)
	}()
	return nil
}

func (f *Firmware) run(ctx context.Context, per FirmwarePeripheral, mb, image []byte) {
	res, err := f.update(ctx, per, mb, image)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.job.Ended = time.Now()
	var st dfu.Status
	switch {
	case err != nil:
		f.job.State, f.job.Error = "failed", err.Error()
		if errors.As(err, &st) {
			f.job.Refusal = refusalOf(st)
		} else if errors.Is(err, dfu.ErrReverted) {
			f.job.Refusal = "reverted"
		} else if errors.Is(err, dfu.ErrNoReply) || errors.Is(err, dfu.ErrClosed) {
			f.job.Refusal = "no_reply"
		} else if errors.Is(err, context.Canceled) {
			f.job.Refusal = "cancelled"
		}
	default:
		f.job.State, f.job.Phase, f.job.Already = "done", dfu.PhaseDone, res.AlreadyInstalled
		f.job.Sent = f.job.Total
	}
}

func (f *Firmware) update(ctx context.Context, per FirmwarePeripheral, mb, image []byte) (dfu.Result, error) {
	open := f.Open
	if open == nil {
		open = openSerial
	}
	port, err := open(per)
	if err != nil {
		return dfu.Result{}, err
	}
	opts := f.Options
	opts.Baud = per.Baud
	c := dfu.New(port, opts)
	defer c.Close()
	return c.Update(ctx, mb, image, func(p dfu.Progress) {
		f.mu.Lock()
		f.job.Phase, f.job.Sent, f.job.Total = p.Phase, p.Done, p.Total
		f.mu.Unlock()
	})
}

func openSerial(p FirmwarePeripheral) (io.ReadWriteCloser, error) {
	baud := p.Baud
	if baud <= 0 {
		baud = 115200
	}
	port, err := serial.Open(p.Port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("firmware: opening %s: %w", p.Port, err)
	}
	return port, nil
}

// Cancel stops a running update; the peripheral keeps what it received,
// and the same release resumes from there.
func (f *Firmware) Cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancel != nil {
		f.cancel()
	}
}

// Close cancels a running update and waits for it to end.
func (f *Firmware) Close() {
	f.mu.Lock()
	f.closed = true
	if f.cancel != nil {
		f.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// Releases lists the signed releases in Dir: the images that have a
// manifest beside them.
func (f *Firmware) Releases() []string {
	if f.Dir == "" {
		return []string{}
	}
	ms, _ := filepath.Glob(filepath.Join(f.Dir, "*.manifest"))
	out := []string{}
	for _, m := range ms {
		img := strings.TrimSuffix(m, ".manifest")
		if st, err := os.Stat(img); err == nil && st.Mode().IsRegular() {
			out = append(out, filepath.Base(img))
		}
	}
	sort.Strings(out)
	return out
}

// release reads the release name of Dir: a base name listed by Releases.
func (f *Firmware) release(name string) (mb, image []byte, err error) {
	ok := false
	for _, r := range f.Releases() {
		ok = ok || r == name
	}
	if !ok {
		return nil, nil, fmt.Errorf("firmware: no release %q in the firmware directory", name)
	}
	path := filepath.Join(f.Dir, name)
	if mb, err = os.ReadFile(path + ".manifest"); err != nil {
		return nil, nil, fmt.Errorf("firmware: %w", err)
	}
	if image, err = os.ReadFile(path); err != nil {
		return nil, nil, fmt.Errorf("firmware: %w", err)
	}
	return mb, image, nil
}

// techFirmwareRoutes adds the firmware routes, for a technician only:
// GET /api/tech/firmware (peripherals, releases, job), POST
// /api/tech/firmware (start), GET /api/tech/firmware/job and POST
// /api/tech/firmware/cancel. Without Firmware, the first answers that no
// peripheral takes an update, so the page can say so.
func (s *Server) techFirmwareRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/tech/firmware", s.technician(func(w http.ResponseWriter, r *http.Request) {
		if s.Firmware == nil {
			writeJSON(w, http.StatusOK, map[string]any{"peripherals": []FirmwarePeripheral{}, "releases": []string{}, "job": FirmwareJob{State: "idle"}})
			return
		}
		ps := s.Firmware.Peripherals
		if ps == nil {
			ps = []FirmwarePeripheral{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"peripherals": ps, "releases": s.Firmware.Releases(), "job": s.Firmware.Job()})
	}))
	if s.Firmware == nil {
		return
	}
	mux.HandleFunc("GET /api/tech/firmware/job", s.technician(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Firmware.Job())
	}))
	mux.HandleFunc("POST /api/tech/firmware/cancel", s.technician(func(w http.ResponseWriter, r *http.Request) {
		s.Firmware.Cancel()
		writeJSON(w, http.StatusOK, s.Firmware.Job())
	}))
	mux.HandleFunc("POST /api/tech/firmware", s.technician(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Peripheral string `json:"peripheral"`
			// Release names one in Firmware.Dir; else Manifest and Image
			// are the upload.
			Release  string `json:"release"`
			Manifest []byte `json:"manifest"`
			Image    []byte `json:"image"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFirmwareBody)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"request: " + err.Error()})
			return
		}
		mb, img := req.Manifest, req.Image
		if req.Release != "" {
			var err error
			if mb, img, err = s.Firmware.release(req.Release); err != nil {
				writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
				return
			}
		}
		err := s.Firmware.Start(req.Peripheral, mb, img)
		switch {
		case errors.Is(err, ErrFirmwareBusy):
			writeJSON(w, http.StatusConflict, apiError{err.Error()})
			return
		case err != nil:
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			return
		}
		s.log().Info("firmware update started", "peripheral", req.Peripheral, "by", callerName(r))
		writeJSON(w, http.StatusAccepted, s.Firmware.Job())
	}))
}

// refusalOf names a peripheral's refusal for the page's texts.
func refusalOf(st dfu.Status) string {
	switch st {
	case dfu.StatusSignature:
		return "signature"
	case dfu.StatusDowngrade:
		return "downgrade"
	case dfu.StatusClass:
		return "class"
	case dfu.StatusDigest:
		return "digest"
	case dfu.StatusTooLarge:
		return "too_large"
	case dfu.StatusBadManifest, dfu.StatusMalformed:
		return "malformed"
	}
	return "other"
}
