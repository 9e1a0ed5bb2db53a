//go:build linux

// Command guichet-samemu emulates the SAM module of a resident-ID card
// reader on a pseudo-terminal, for demonstrations and manual tests. It
// prints the terminal's path on its first line of output, then serves until
// interrupted:
//
//	$ guichet-samemu -link /tmp/sam0
//	/dev/pts/4
//
// and the daemon's configuration points the card reader at it:
//
//	card_reader: {driver: sam, options: {port: /tmp/sam0}}
//
// The specimen card (number 11010519491231002X of GB 11643-1999) is in the
// field unless -no-card or -card FILE says otherwise; FILE is YAML with the
// keys name, sex, nation, birth, address, id_number, issuer, valid_from,
// valid_to and type, codes and dates as stored on the card. -fault injects
// a fault (corrupt, short, truncated, slow, garbage, silent) into the
// replies to -fault-cmd.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/firmware-bridge/sam"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "guichet-samemu:", err)
		os.Exit(2)
	}
}

// cardFile is the YAML form of a card's text block.
type cardFile struct {
	Name      string `yaml:"name"`
	Sex       string `yaml:"sex"`
	Nation    string `yaml:"nation"`
	Birth     string `yaml:"birth"`
	Address   string `yaml:"address"`
	IDNumber  string `yaml:"id_number"`
	Issuer    string `yaml:"issuer"`
	ValidFrom string `yaml:"valid_from"`
	ValidTo   string `yaml:"valid_to"`
	Type      string `yaml:"type"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guichet-samemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baud := fs.Int("baud", 115200, "pace the emulator to a UART at this `rate` (0: no pacing)")
	noCard := fs.Bool("no-card", false, "start with no card in the field")
	cardPath := fs.String("card", "", "YAML `file` of the card to hold instead of the specimen")
	faultName := fs.String("fault", "none", "`fault` to inject: none, corrupt, short, truncated, slow, garbage, silent")
	faultCmd := fs.String("fault-cmd", "0", "command (hex CMD and Para, such as 3001) whose replies get the fault; 0 for all")
	faultTimes := fs.Int("fault-times", 0, "damage this many replies (0: all)")
	readDelay := fs.Duration("read-delay", 0, "time the module takes to read the card (real ones: about 0.5 s)")
	link := fs.String("link", "", "also make a symbolic link to the terminal at `path`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fault, err := samemu.ParseFault(*faultName)
	if err != nil {
		return err
	}
	cmd, err := strconv.ParseUint(*faultCmd, 16, 16)
	if err != nil {
		return fmt.Errorf("-fault-cmd %q: want 4 hex digits such as 3001", *faultCmd)
	}

	e := samemu.New()
	e.SetBaud(*baud)
	e.SetReadDelay(*readDelay)
	switch {
	case *noCard:
	case *cardPath != "":
		t, err := loadCard(*cardPath)
		if err != nil {
			return err
		}
		if err := e.SetCard(t, nil); err != nil {
			return fmt.Errorf("%s: %w", *cardPath, err)
		}
	default:
		if err := e.SetCard(samemu.SampleText(), nil); err != nil {
			return err
		}
	}
	if fault != samemu.FaultNone {
		e.Inject(fault, sam.Command(cmd), *faultTimes)
	}

	p, err := e.ServePTY(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	unlink, err := p.Announce(*link, stdout)
	defer unlink()
	if err != nil {
		return err
	}
	return p.Wait(ctx)
}

func loadCard(path string) (sam.Text, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return sam.Text{}, err
	}
	var c cardFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return sam.Text{}, fmt.Errorf("%s: %w", path, err)
	}
	return sam.Text{
		Name: c.Name, Sex: c.Sex, Nation: c.Nation, Birth: c.Birth, Address: c.Address,
		IDNumber: c.IDNumber, Issuer: c.Issuer, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo, Type: c.Type,
	}, nil
}
