package logtest

import (
	"strings"
	"sync"
	"testing"
)

// TestBufferConcurrent: lines written from many goroutines all arrive whole
// (run with -race to check the locking).
func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	const writers, lines = 8, 100
	for range writers {
		wg.Go(func() {
			for range lines {
				if n, err := b.Write([]byte("line\n")); n != 5 || err != nil {
					t.Errorf("Write = %d, %v; want 5, nil", n, err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got, want := strings.Count(b.String(), "line\n"), writers*lines; got != want || len(b.String()) != want*5 {
		t.Errorf("got %d whole lines in %d bytes, want %d", got, len(b.String()), want)
	}
}
