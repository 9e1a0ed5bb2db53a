// Package sim is the simulated ID-card reader: it returns a configured test
// card after a short delay, as a reader would once a card is laid on it.
// It registers as card reader driver "sim".
package sim

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
)

// Options configure the simulated card.
type Options struct {
	Card  cardreader.Card `yaml:"card"`
	Photo string          `yaml:"photo"` // image file used as the card photo
	Delay time.Duration   `yaml:"delay"`
}

// Reader is the simulated reader.
type Reader struct {
	opts Options
}

// New returns a reader that yields opts.Card.
func New(opts Options) (*Reader, error) {
	if opts.Card.Kind == "" {
		opts.Card = cardreader.Card{Kind: "sim", DocumentNumber: "SIM000001", Surname: "SPECIMEN", GivenNames: "TEST",
			Sex: "F", Nationality: "UTO", BirthDate: "1990-01-01", ExpiryDate: "2035-01-01"}
	}
	if opts.Photo != "" {
		b, err := os.ReadFile(opts.Photo)
		if err != nil {
			return nil, fmt.Errorf("photo: %w", err)
		}
		opts.Card.Photo, opts.Card.PhotoFormat = b, "jpeg"
	}
	return &Reader{opts: opts}, nil
}

func init() {
	device.Register(cardreader.Drivers, "sim", func(_ context.Context, opts Options) (cardreader.Reader, error) {
		return New(opts)
	})
}

// ReadCard returns a copy of the configured card.
func (r *Reader) ReadCard(ctx context.Context, _ cardreader.Access) (*cardreader.Card, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(r.opts.Delay):
	}
	c := r.opts.Card
	c.Photo = append([]byte(nil), c.Photo...)
	c.ReadAt = time.Now()
	return &c, nil
}

// Close does nothing.
func (r *Reader) Close() error { return nil }

// Probe reports the simulated reader with its card on it.
func (r *Reader) Probe(ctx context.Context) (cardreader.Presence, error) {
	return cardreader.Presence{Reader: "sim", Card: true}, ctx.Err()
}
