package platform

import (
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenStoreTogether: processes opening one new store at the same moment
// (serve, and enrol-code beside it) all open it; none is told "database is
// locked".
func TestOpenStoreTogether(t *testing.T) {
	for round := 0; round < 10; round++ {
		path := filepath.Join(t.TempDir(), "platform.db")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := OpenStore(path)
				if err != nil {
					errs <- err
					return
				}
				s.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
