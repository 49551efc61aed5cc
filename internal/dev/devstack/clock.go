package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"dsrflow/internal/dev/asl"
)

// Clock is the local stack's time: scale times faster than the wall clock
// (86400: one day of workflow time per second), so that a weeks-long backup
// wait passes in seconds. It implements asl.Clock; the engine, the store and
// every handler share it, so the dates they write agree.
//
// It runs fast only while something waits for it: while no timer is
// pending (no Wait state, retry delay or timeout), it runs at real speed, so
// an idle stack does not race years ahead (the working-day calendar covers a
// limited number of years).
//
// Two more things make it fit for a person at the keyboard:
//
//   - While a workflow waits for a person (a .waitForTaskToken task: the
//     verification code, an operator's decision), the clock runs at real
//     speed: a 7-day verification window stays open and a code stays valid
//     while you read the outbox. Hold starts such a period; its release
//     function ends it.
//   - Its reading is saved on Close and resumed on the next start (never
//     earlier than the wall clock), so the dates already in the table do not
//     lie in the future after a restart.
//
// Timers fire by clock time: a rate change re-plans every pending timer.
type Clock struct {
	scale float64

	mu          sync.Mutex
	baseVirtual time.Time // clock time at baseReal
	baseReal    time.Time
	rate        float64
	holds       int
	timers      asl.TimerQueue
	wake        chan struct{}
}

var _ asl.Clock = (*Clock)(nil)

// NewClock returns a clock running scale times faster than real time,
// starting at start (or the wall clock if start is earlier or zero).
func NewClock(scale float64, start time.Time) *Clock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	if start.Before(now) {
		start = now
	}
	c := &Clock{scale: scale, baseVirtual: start, baseReal: now, rate: 1, wake: make(chan struct{}, 1)}
	c.timers.Lock, c.timers.OnStop = &c.mu, c.updateRateLocked
	return c
}

// Scale is the clock's speed-up when nobody is being waited for.
func (c *Clock) Scale() float64 { return c.scale }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	elapsed := time.Since(c.baseReal)
	return c.baseVirtual.Add(time.Duration(float64(elapsed) * c.rate))
}

// Hold makes the clock run at real speed until the returned function is
// called (holds nest; the function is safe to call more than once).
func (c *Clock) Hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.updateRateLocked()
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.holds--
			c.updateRateLocked()
			c.mu.Unlock()
		})
	}
}

// updateRateLocked runs the clock fast while a timer is pending and nobody
// is awaited, at real speed otherwise.
func (c *Clock) updateRateLocked() {
	if c.holds == 0 && c.timers.Len() > 0 {
		c.setRateLocked(c.scale)
	} else {
		c.setRateLocked(1)
	}
}

func (c *Clock) setRateLocked(r float64) {
	if r == c.rate {
		return
	}
	c.baseVirtual, c.baseReal, c.rate = c.nowLocked(), time.Now(), r
	c.signal()
}

func (c *Clock) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// NewTimer returns a timer firing when the clock has advanced by d.
func (c *Clock) NewTimer(d time.Duration) asl.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.timers.Add(c.nowLocked(), d)
	if d <= 0 {
		return t
	}
	c.updateRateLocked()
	c.signal()
	return t
}

// Run fires timers until ctx is done. The stack runs it in a goroutine.
func (c *Clock) Run(ctx context.Context) {
	real := time.NewTimer(time.Hour)
	defer real.Stop()
	for {
		c.mu.Lock()
		now := c.nowLocked()
		c.timers.FireDue(now, func(time.Time) time.Time { return now })
		c.updateRateLocked()
		wait := time.Hour
		if next, ok := c.timers.Next(); ok {
			wait = time.Duration(float64(next.Sub(now))/c.rate) + time.Millisecond
		}
		c.mu.Unlock()
		real.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
			if !real.Stop() {
				select {
				case <-real.C:
				default:
				}
			}
		case <-real.C:
		}
	}
}

// clockFile is what the clock saves between runs.
type clockFile struct {
	Now   time.Time `json:"now"`
	Scale float64   `json:"scale"`
}

// loadClockStart reads the saved clock reading; a missing file is the zero time.
func loadClockStart(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read clock: %w", err)
	}
	var f clockFile
	if err := json.Unmarshal(b, &f); err != nil {
		return time.Time{}, fmt.Errorf("read clock %s: %w", path, err)
	}
	return f.Now, nil
}

// save writes the clock's reading to path.
func (c *Clock) save(path string) error {
	b, err := json.MarshalIndent(clockFile{Now: c.Now().UTC(), Scale: c.scale}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
