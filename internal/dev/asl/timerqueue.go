package asl

import (
	"container/heap"
	"sync"
	"time"
)

// TimerQueue holds a clock's pending timers in deadline order; Virtual and
// other clocks (the local stack's) build their NewTimer on it. The clock
// guards the queue with its own mutex: Lock is that mutex, which a timer's
// Stop takes, and every method must be called with it held. OnStop, if set,
// runs under the lock after Stop removed a pending timer.
type TimerQueue struct {
	Lock   sync.Locker
	OnStop func()
	h      timerHeap
}

// Add returns a timer due d after now. A timer with d <= 0 has fired
// already, with now, and is not queued.
func (q *TimerQueue) Add(now time.Time, d time.Duration) Timer {
	t := &queuedTimer{q: q, at: now.Add(d), ch: make(chan time.Time, 1), index: -1}
	if d <= 0 {
		t.ch <- now
		return t
	}
	heap.Push(&q.h, t)
	return t
}

// Len is the number of pending timers.
func (q *TimerQueue) Len() int { return len(q.h) }

// Next is the earliest pending deadline; ok is false when none is pending.
func (q *TimerQueue) Next() (at time.Time, ok bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// FireDue fires, in deadline order, every timer due at or before upTo,
// sending each value(its deadline).
func (q *TimerQueue) FireDue(upTo time.Time, value func(at time.Time) time.Time) {
	for len(q.h) > 0 && !q.h[0].at.After(upTo) {
		t := heap.Pop(&q.h).(*queuedTimer)
		t.ch <- value(t.at)
	}
}

type queuedTimer struct {
	q     *TimerQueue
	at    time.Time
	ch    chan time.Time
	index int
}

func (t *queuedTimer) C() <-chan time.Time { return t.ch }

func (t *queuedTimer) Stop() bool {
	t.q.Lock.Lock()
	defer t.q.Lock.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.q.h, t.index)
	if t.q.OnStop != nil {
		t.q.OnStop()
	}
	return true
}

type timerHeap []*queuedTimer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*queuedTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
