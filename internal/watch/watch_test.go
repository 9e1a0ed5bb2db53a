package watch

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestZeroValue(t *testing.T) {
	var w Value[string]
	v, n, ch := w.Current()
	if v != "" || n != 0 || ch == nil {
		t.Fatalf("zero value %q %d %v", v, n, ch)
	}
	select {
	case <-ch:
		t.Fatal("changed before any Set")
	default:
	}
}

func TestSetWakesAndNumbers(t *testing.T) {
	var w Value[[]int]
	_, n0, ch := w.Current()
	w.Set([]int{1})
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("Set did not close the change channel")
	}
	v, n1, ch1 := w.Current()
	if n1 != n0+1 || len(v) != 1 || v[0] != 1 {
		t.Fatalf("after Set: %v %d", v, n1)
	}
	select {
	case <-ch1:
		t.Fatal("new channel already closed")
	default:
	}
	w.Set(nil)
	if _, n2, _ := w.Current(); n2 != n1+1 {
		t.Fatalf("version %d after %d", n2, n1)
	}
}

func TestNext(t *testing.T) {
	var w Value[int]
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, ok := w.Next(ctx, 0); ok {
		t.Fatal("Next returned without a change")
	}
	w.Set(7)
	if v, n, ok := w.Next(context.Background(), 0); !ok || v != 7 || n != 1 {
		t.Fatalf("Next after Set: %d %d %v", v, n, ok)
	}
	done := make(chan int)
	go func() {
		v, _, _ := w.Next(context.Background(), 1)
		done <- v
	}()
	w.Set(8)
	if v := <-done; v != 8 {
		t.Fatalf("waiter got %d", v)
	}
}

// Many writers and readers: every reader sees versions that only grow.
func TestConcurrent(t *testing.T) {
	var w Value[int]
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 200 {
				w.Set(i*1000 + j)
			}
		}()
		go func() {
			defer wg.Done()
			var last uint64
			for range 200 {
				_, n, _ := w.Current()
				if n < last {
					t.Errorf("version went from %d to %d", last, n)
				}
				last = n
			}
		}()
	}
	wg.Wait()
	if _, n, _ := w.Current(); n != 800 {
		t.Fatalf("version %d after 800 sets", n)
	}
}
