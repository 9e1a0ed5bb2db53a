package selftest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guichet/guichet/sync/outbox"
)

// KernelClock reads the kernel's view of the clock discipline (adjtimex):
// synchronised unless an NTP daemon has not set it or has lost its source.
func KernelClock() (synced bool, err error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, fmt.Errorf("adjtimex: %w", err)
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, nil
}

// Clock checks that the clock is synchronised, as synced reads it
// (KernelClock on the appliance).
func Clock(synced func() (bool, error)) Check {
	return Check{Name: "clock", Run: func(ctx context.Context) Result {
		ok, err := synced()
		if err != nil {
			return Failed(err, "the clock's state cannot be read: run timedatectl timesync-status")
		}
		if !ok {
			return Failed(errors.New("clock not synchronised"),
				"check NTP: timedatectl timesync-status, and that the network reaches the time servers; records stamped with a wrong time are refused")
		}
		return Passed("synchronised")
	}}
}

// Disk checks that the file system of dir has at least reserve bytes
// free for the service.
func Disk(dir string, reserve uint64) Check {
	return Check{Name: "disk", Run: func(ctx context.Context) Result {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return Failed(fmt.Errorf("statfs %s: %w", dir, err), "the state directory is missing or unreadable: check state_dir and its mount")
		}
		free := st.Bavail * uint64(st.Bsize)
		if free < reserve {
			return Failed(fmt.Errorf("%s free under %s, below the reserve of %s", mib(free), dir, mib(reserve)),
				"free space on the state partition (old logs, core dumps) or replace the storage; a full disk stops the queue")
		}
		return Passed("%s free under %s", mib(free), dir)
	}}
}

func mib(n uint64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// Store checks the integrity of the store at path with PRAGMA
// quick_check, read-only, beside a daemon that may be writing.
func Store(path string) Check {
	return Check{Name: "store", Timeout: 10 * time.Second, Run: func(ctx context.Context) Result {
		db, err := outbox.OpenReadOnly(ctx, path)
		if err != nil {
			return Failed(err, "the store cannot be opened: check state_dir and the file's owner; guichetd creates it on its first start")
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
		if err != nil {
			return Failed(fmt.Errorf("quick_check: %w", err), storeHint)
		}
		defer rows.Close()
		var problems []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return Failed(fmt.Errorf("quick_check: %w", err), storeHint)
			}
			if s != "ok" {
				problems = append(problems, s)
			}
		}
		if err := rows.Err(); err != nil {
			return Failed(fmt.Errorf("quick_check: %w", err), storeHint)
		}
		if len(problems) > 0 {
			return Failed(fmt.Errorf("quick_check: %d problems, first: %s", len(problems), problems[0]), storeHint)
		}
		return Passed("quick_check ok")
	}}
}

const storeHint = "the store is damaged: stop guichetd, keep a copy of state_dir, and call support before restoring it; do not delete it (unsent records are in it)"

// Identity checks the device's identity key: that it signs, and that it
// lives in a TPM. A key in a file fails on real hardware (the TPM is
// missing or not configured) and is skipped on simulated hardware.
func Identity(key crypto.Signer, inTPM, realHardware bool) Check {
	return Check{Name: "tpm", Run: func(ctx context.Context) Result {
		if key == nil {
			return Failed(errors.New("no identity key"), "the identity could not be opened: check identity in the configuration and /dev/tpmrm0")
		}
		if !inTPM {
			if !realHardware {
				return Skipped("simulated hardware: identity key in a file")
			}
			return Failed(errors.New("no TPM: the identity key is in a file"),
				"check that the TPM is enabled in the firmware setup and /dev/tpmrm0 exists; set identity.kind: tpm")
		}
		sum := sha256.Sum256([]byte("guichet selftest"))
		sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			return Failed(fmt.Errorf("TPM sign: %w", err), "the TPM does not answer: check /dev/tpmrm0 and that tpm2-abrmd or the kernel resource manager runs")
		}
		if pub, ok := key.Public().(*ecdsa.PublicKey); ok && !ecdsa.VerifyASN1(pub, sum[:], sig) {
			return Failed(errors.New("TPM signature does not verify"), "the TPM key does not match its public part: re-provision the device")
		}
		return Passed("TPM present, identity key signs")
	}}
}
