package asl

import (
	"context"
	"testing"
	"time"
)

func TestVirtualClock(t *testing.T) {
	c := VirtualClock(testStart).(*Virtual)
	t1 := c.NewTimer(10 * time.Second)
	t2 := c.NewTimer(5 * time.Second)
	t3 := c.NewTimer(20 * time.Second)
	if !t3.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	c.Advance(7 * time.Second)
	select {
	case at := <-t2.C():
		if !at.Equal(testStart.Add(5 * time.Second)) {
			t.Errorf("t2 fired at %v", at)
		}
	default:
		t.Fatal("t2 did not fire")
	}
	select {
	case <-t1.C():
		t.Fatal("t1 fired early")
	default:
	}
	c.Advance(3 * time.Second)
	select {
	case <-t1.C():
	default:
		t.Fatal("t1 did not fire at 10s")
	}
	c.Advance(time.Hour)
	select {
	case <-t3.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if got := c.Now().Sub(testStart); got != time.Hour+10*time.Second {
		t.Errorf("now = start+%v", got)
	}
	if t1.Stop() {
		t.Error("Stop of a fired timer returned true")
	}
	// Sleeps pass at once and move time.
	if err := sleep(context.Background(), c, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(testStart); got != time.Hour+100*time.Second {
		t.Errorf("after sleep now = start+%v", got)
	}
	if z := c.NewTimer(0); len(z.C()) != 1 {
		t.Error("a zero-duration timer should fire at once")
	}
}

func TestScaledClock(t *testing.T) {
	c := ScaledClock(3600) // one hour per second
	before := c.Now()
	tm := c.NewTimer(36 * time.Second) // 10ms of real time
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("scaled timer did not fire")
	}
	if elapsed := c.Now().Sub(before); elapsed < 36*time.Second {
		t.Errorf("scaled time advanced %v, want at least 36s", elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, c, time.Hour); err == nil {
		t.Error("sleep on a cancelled context returned nil")
	}
}
