package devstack

import (
	"context"
	"sync"
	"time"

	"dsrflow/internal/dev/asl"
)

// Clock is one workflow execution's time (see executions): it starts at
// the wall clock's reading (or later, see NewClock) and runs scale times
// faster than the wall clock (86400: one day per second) while the
// execution waits for time, so a weeks-long backup wait passes in seconds
// without moving any other request's dates. It implements asl.Clock; the
// engine, and the store and task handlers serving that execution, share
// it, so the dates they write for the request agree.
//
// It runs fast only while something waits for it: while no timer is
// pending (no Wait state, retry delay or timeout), it runs at real speed.
// While a task handler of the execution runs, or the execution waits for
// someone (a .waitForTaskToken task: the verification code, an operator's
// decision, a partner's callback), it runs at real speed too: a partner's
// hour-long deadline is not spent by the milliseconds of its call, and a
// 7-day verification window stays open while you read the outbox. Hold
// starts such a period; its release function ends it.
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

// NewClock returns a clock running scale times faster than real time while
// a timer is pending, starting at start (or the wall clock if start is
// earlier or zero: a clock never reads earlier than the wall clock).
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

// Run fires timers until ctx is done; the stack runs it in a goroutine
// for as long as the execution runs.
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
