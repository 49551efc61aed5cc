package phone

import (
	"sync"
	"testing"
)

// TestParseConcurrentFirstUse parses from many goroutines at once while the
// library has loaded nothing yet (this file's tests run first): its metadata
// loads on first use (third_party/phonenumbers), so the first calls race to
// load it. Every call must get the same answer; under go test -race the
// test also checks the loading for data races.
func TestParseConcurrentFirstUse(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := Parse("+86 138 0013 8000"); err != nil || got != "+8613800138000" {
				errs <- got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("Parse = %q, want +8613800138000", got)
	}
}
