package asl

import (
	"sync"
	"testing"
	"time"
)

func TestTimerQueue(t *testing.T) {
	var mu sync.Mutex
	stops := 0
	q := &TimerQueue{Lock: &mu, OnStop: func() { stops++ }}
	now := testStart
	fired := func(tm Timer) (time.Time, bool) {
		select {
		case at := <-tm.C():
			return at, true
		default:
			return time.Time{}, false
		}
	}

	mu.Lock()
	late := q.Add(now, 3*time.Hour)
	early := q.Add(now, time.Hour)
	stopped := q.Add(now, 2*time.Hour)
	past := q.Add(now, -time.Minute)
	mu.Unlock()

	if at, ok := fired(past); !ok || !at.Equal(now) {
		t.Errorf("timer with d < 0: fired %v at %v, want at once at %v", ok, at, now)
	}
	if past.Stop() {
		t.Error("Stop of a fired timer = true, want false")
	}
	if got, want := q.Len(), 3; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if next, ok := q.Next(); !ok || !next.Equal(now.Add(time.Hour)) {
		t.Errorf("Next = %v, %v; want %v", next, ok, now.Add(time.Hour))
	}
	if !stopped.Stop() || stops != 1 {
		t.Errorf("Stop of a pending timer: OnStop ran %d times, want 1", stops)
	}
	if stopped.Stop() || stops != 1 {
		t.Errorf("second Stop = true or OnStop ran again (%d)", stops)
	}

	var order []time.Time
	mu.Lock()
	q.FireDue(now.Add(2*time.Hour), func(at time.Time) time.Time { order = append(order, at); return at.Add(time.Second) })
	mu.Unlock()
	if len(order) != 1 || !order[0].Equal(now.Add(time.Hour)) {
		t.Errorf("FireDue up to +2h fired %v, want only the +1h timer", order)
	}
	if at, ok := fired(early); !ok || !at.Equal(now.Add(time.Hour+time.Second)) {
		t.Errorf("early timer: fired %v with %v, want value(deadline) %v", ok, at, now.Add(time.Hour+time.Second))
	}
	if _, ok := fired(late); ok {
		t.Error("late timer fired before its deadline")
	}
	if early.Stop() {
		t.Error("Stop of a fired timer = true, want false")
	}
	mu.Lock()
	q.FireDue(now.Add(3*time.Hour), func(at time.Time) time.Time { return at })
	mu.Unlock()
	if at, ok := fired(late); !ok || !at.Equal(now.Add(3*time.Hour)) {
		t.Errorf("late timer: fired %v at %v, want at its deadline", ok, at)
	}
	if _, ok := q.Next(); ok || q.Len() != 0 {
		t.Errorf("queue not empty after firing everything: Len %d", q.Len())
	}
}
