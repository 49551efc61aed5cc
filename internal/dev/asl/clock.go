package asl

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Timer fires once on C unless stopped.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Clock is the engine's source of time. Wait states, retry delays,
// timeouts and heartbeats all use it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Holder is a Clock that can be made to run at real speed for a while
// (the local stack's execution clocks, which otherwise race through
// waits): the engine holds it from a task's start until its handler
// returns, so that a handler's call spends real time, not a timeout's
// worth of simulated time. Holds nest; release may be called more than
// once.
type Holder interface {
	Hold() (release func())
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realClock struct{}

// RealClock is the wall clock.
func RealClock() Clock { return realClock{} }

func (realClock) Now() time.Time                 { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type scaledClock struct {
	factor    float64
	realStart time.Time
}

// ScaledClock runs factor times faster than the wall clock (86400 = one
// simulated day per real second). It starts at the current time.
func ScaledClock(factor float64) Clock {
	if factor <= 0 {
		factor = 1
	}
	return &scaledClock{factor: factor, realStart: time.Now()}
}

func (s *scaledClock) Now() time.Time {
	elapsed := time.Since(s.realStart)
	return s.realStart.Add(time.Duration(float64(elapsed) * s.factor))
}

func (s *scaledClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(time.Duration(float64(d) / s.factor))}
}

// Virtual is a simulated clock. Waits and retry delays pass at once (the
// engine calls Advance through Sleep, so time jumps forward); timers made
// with NewTimer (task timeouts, heartbeats, execution timeouts) fire when
// the clock is advanced past their deadline, by a sleep or by Advance.
type Virtual struct {
	mu     sync.Mutex
	now    time.Time
	timers TimerQueue
	// cur is a copy of now that Now reads without the lock (the engine
	// reads the time for every event). It is updated at the end of
	// Advance; while advancing is set, Now takes the lock, so whoever a
	// timer wakes sees the time Advance ends at, as with the lock alone.
	cur       atomic.Pointer[time.Time]
	advancing atomic.Bool
}

// VirtualClock returns a *Virtual clock starting at start.
func VirtualClock(start time.Time) Clock {
	v := &Virtual{now: start}
	v.timers.Lock = &v.mu
	v.cur.Store(&start)
	return v
}

// Now returns the simulated time.
func (v *Virtual) Now() time.Time {
	if !v.advancing.Load() {
		if t := v.cur.Load(); t != nil {
			return *t
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTimer returns a timer that fires when the clock reaches now+d.
func (v *Virtual) NewTimer(d time.Duration) Timer {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.timers.Add(v.now, d)
}

// Advance moves the clock forward by d, firing due timers in order.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.advancing.Store(true)
	defer v.advancing.Store(false)
	target := v.now.Add(d)
	v.timers.FireDue(target, func(at time.Time) time.Time {
		if at.After(v.now) {
			v.now = at
		}
		return at
	})
	if target.After(v.now) {
		v.now = target
	}
	now := v.now
	v.cur.Store(&now)
}

// Sleep advances the clock by d and returns at once.
func (v *Virtual) Sleep(d time.Duration) { v.Advance(d) }

// sleeper is implemented by clocks whose sleeps pass at once.
type sleeper interface{ Sleep(d time.Duration) }

// sleep waits d on the clock or until ctx ends.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if s, ok := c.(sleeper); ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.Sleep(d)
		return nil
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
