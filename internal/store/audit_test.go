package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// appendN appends n events to request id and returns them.
func appendN(tb testing.TB, st *Store, id string, n int) []Event {
	tb.Helper()
	var out []Event
	for i := range n {
		ev, err := st.AppendEvent(context.Background(), id, Event{
			Type:  fmt.Sprintf("step%d", i+1),
			Actor: "test",
			Data:  map[string]string{"i": fmt.Sprint(i + 1), "partner": "voice-store"},
		})
		if err != nil {
			tb.Fatalf("append event %d: %v", i+1, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestAppendAndVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA"))
	at := time.Date(2026, 3, 2, 17, 4, 5, 123456789, time.FixedZone("CST", 8*3600))
	first, err := f.st.AppendEvent(ctx, "r1", Event{Type: "received", Actor: "intake-web", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.PrevHash != "" || first.Hash != EventHash("r1", first) || len(first.Hash) != 64 {
		t.Errorf("first event = seq %d prev %q hash %q; want 1, empty, its 64-hex hash", first.Seq, first.PrevHash, first.Hash)
	}
	if !first.At.Equal(at) || first.At.Location() != time.UTC {
		t.Errorf("At = %v, want %v in UTC", first.At, at)
	}
	evs := append([]Event{first}, appendN(t, f.st, "r1", 4)...)
	for i, ev := range evs {
		if ev.Seq != i+1 {
			t.Errorf("event %d has seq %d", i+1, ev.Seq)
		}
		if i > 0 && ev.PrevHash != evs[i-1].Hash {
			t.Errorf("event %d prevHash %q, want event %d's hash %q", ev.Seq, ev.PrevHash, i, evs[i-1].Hash)
		}
	}
	rep, err := f.st.VerifyChain(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Events != 5 || rep.HeadSeq != 5 || rep.HeadHash != evs[4].Hash || rep.RecordedSeq != 5 || rep.RecordedHash != evs[4].Hash {
		t.Errorf("report = %+v; want OK, 5 events, head and recorded head 5 %s", rep, evs[4].Hash)
	}

	// A request without events has an empty, valid chain.
	f.create(t, newRequest("r2", "kB"))
	rep, err = f.st.VerifyChain(ctx, "r2")
	if err != nil || !rep.OK() || rep.Events != 0 || rep.HeadSeq != 0 {
		t.Errorf("empty chain: %+v, %v; want OK with no events", rep, err)
	}
}

// The hash is a function of the canonical content: pinned here so that a
// change of the canonical form (which would break every stored chain) fails.
func TestEventHashIsStable(t *testing.T) {
	t.Parallel()
	ev := Event{
		Seq: 2, Type: "partner_done", Actor: "partner:analytics",
		At:       time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Data:     map[string]string{"z": "<&>", "a": "1"},
		PrevHash: "abc",
	}
	// printf %s '…' | sha256sum, of the canonical form:
	// {"requestId":"r1","seq":2,"type":"partner_done","at":"2026-01-02T03:04:05.0000006Z","actor":"partner:analytics","data":{"a":"1","z":"<&>"},"prevHash":"abc"}
	const want = "d8d33d1b7442d2661db5a58f99f4db994175b3f788ae836aef3f7d2c1c7cb527"
	got := EventHash("r1", ev)
	if got != want {
		t.Errorf("EventHash = %s, want %s", got, want)
	}
	tests := []struct {
		name   string
		change func(*Event) string
	}{
		{"request", func(e *Event) string { return EventHash("r2", *e) }},
		{"seq", func(e *Event) string { e.Seq = 3; return EventHash("r1", *e) }},
		{"type", func(e *Event) string { e.Type = "x"; return EventHash("r1", *e) }},
		{"at", func(e *Event) string { e.At = e.At.Add(time.Nanosecond); return EventHash("r1", *e) }},
		{"actor", func(e *Event) string { e.Actor = "x"; return EventHash("r1", *e) }},
		{"data", func(e *Event) string { e.Data = map[string]string{"a": "2", "z": "<&>"}; return EventHash("r1", *e) }},
		{"prevHash", func(e *Event) string { e.PrevHash = "abd"; return EventHash("r1", *e) }},
	}
	for _, tt := range tests {
		e := ev
		e.Data = map[string]string{"z": "<&>", "a": "1"}
		if h := tt.change(&e); h == got {
			t.Errorf("changing %s does not change the hash", tt.name)
		}
	}
	// Same instant in another zone, empty vs nil data: same hash.
	e := ev
	e.At = ev.At.In(time.FixedZone("CST", 8*3600))
	if EventHash("r1", e) != got {
		t.Error("the zone of At changes the hash")
	}
	e.Data, ev.Data = map[string]string{}, nil
	if EventHash("r1", e) != EventHash("r1", ev) {
		t.Error("empty and nil data hash differently")
	}
}

func TestAppendEventBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, newRequest("r1", "kA"))
	tests := []struct {
		name string
		id   string
		ev   Event
		want func(error) bool
	}{
		{"no type", "r1", Event{Actor: "a"}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "empty type") }},
		{"no actor", "r1", Event{Type: "t"}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "empty actor") }},
		{"empty data key", "r1", Event{Type: "t", Actor: "a", Data: map[string]string{"": "x"}}, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "empty data key")
		}},
		{"no request", "ghost", Event{Type: "t", Actor: "a"}, func(err error) bool { return errors.Is(err, ErrNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.st.AppendEvent(context.Background(), tt.id, tt.ev); !tt.want(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
	if _, err := f.st.VerifyChain(context.Background(), "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("VerifyChain(ghost) err = %v, want ErrNotFound", err)
	}
	rep, err := f.st.VerifyChain(context.Background(), "r1")
	if err != nil || rep.Events != 0 {
		t.Errorf("rejected events were stored: %+v, %v", rep, err)
	}
}

type problem struct {
	seq    int
	reason ChainReason
}

// Tampering with the stored chain shows in VerifyChain, at the right place.
func TestVerifyChainDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *fixture, evs []Event)
		want   []problem
	}{
		{
			name: "edited data",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.editEvent(t, 3, func(m map[string]types.AttributeValue) {
					m["data"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"i": &types.AttributeValueMemberS{Value: "99"}}}
				})
			},
			want: []problem{{3, ReasonEdited}},
		},
		{
			name: "edited type and hash recomputed",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				e := evs[2]
				e.Type = "nothing_happened"
				e.Hash = EventHash("r1", e)
				f.putEvent(t, 3, e)
			},
			want: []problem{{4, ReasonBrokenLink}},
		},
		{
			name: "events 2 and 3 swapped",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.putEvent(t, 2, evs[2])
				f.putEvent(t, 3, evs[1])
			},
			want: []problem{{2, ReasonReordered}, {3, ReasonReordered}},
		},
		{
			name: "events 2 and 3 swapped and renumbered",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				a, b := evs[2], evs[1]
				a.Seq, b.Seq = 2, 3
				f.putEvent(t, 2, a)
				f.putEvent(t, 3, b)
			},
			want: []problem{{2, ReasonEdited}, {3, ReasonEdited}, {4, ReasonBrokenLink}},
		},
		{
			name:   "middle event deleted",
			tamper: func(t *testing.T, f *fixture, evs []Event) { f.deleteRaw(t, "REQ#r1", eventSK(3)) },
			want:   []problem{{3, ReasonMissing}},
		},
		{
			name: "two middle events deleted",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.deleteRaw(t, "REQ#r1", eventSK(2))
				f.deleteRaw(t, "REQ#r1", eventSK(3))
			},
			want: []problem{{2, ReasonMissing}},
		},
		{
			name:   "first event deleted",
			tamper: func(t *testing.T, f *fixture, evs []Event) { f.deleteRaw(t, "REQ#r1", eventSK(1)) },
			want:   []problem{{1, ReasonMissing}},
		},
		{
			name:   "last event deleted",
			tamper: func(t *testing.T, f *fixture, evs []Event) { f.deleteRaw(t, "REQ#r1", eventSK(5)) },
			want:   []problem{{5, ReasonTruncated}},
		},
		{
			name: "last two events deleted",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.deleteRaw(t, "REQ#r1", eventSK(4))
				f.deleteRaw(t, "REQ#r1", eventSK(5))
			},
			want: []problem{{4, ReasonTruncated}},
		},
		{
			name: "event replaced by a copy of another",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.putEvent(t, 4, evs[1])
			},
			want: []problem{{4, ReasonReordered}, {4, ReasonMissing}},
		},
		{
			name: "recorded head changed",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				item := f.rawItem(t, "REQ#r1", "REQUEST")
				item["auditHead"] = &types.AttributeValueMemberS{Value: strings.Repeat("0", 64)}
				f.putRaw(t, item)
			},
			want: []problem{{5, ReasonHeadMismatch}},
		},
		{
			name: "not an event",
			tamper: func(t *testing.T, f *fixture, evs []Event) {
				f.editEvent(t, 2, func(m map[string]types.AttributeValue) {
					m["seq"] = &types.AttributeValueMemberS{Value: "two"}
				})
			},
			want: []problem{{2, ReasonMalformed}, {2, ReasonMissing}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.create(t, newRequest("r1", "kA"))
			evs := appendN(t, f.st, "r1", 5)
			tt.tamper(t, f, evs)
			rep, err := f.st.VerifyChain(context.Background(), "r1")
			if err != nil {
				t.Fatal(err)
			}
			var got []problem
			for _, p := range rep.Problems {
				got = append(got, problem{p.Seq, p.Reason})
				if p.Detail == "" {
					t.Errorf("problem at %d (%s) has no detail", p.Seq, p.Reason)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || rep.OK() {
				t.Errorf("problems = %v, want %v (report %+v)", got, tt.want, rep)
			}
		})
	}
}

// editEvent rewrites stored event seq through edit.
func (f *fixture) editEvent(tb testing.TB, seq int, edit func(map[string]types.AttributeValue)) {
	tb.Helper()
	item := f.rawItem(tb, "REQ#r1", eventSK(seq))
	if item == nil {
		tb.Fatalf("no event %d", seq)
	}
	edit(item)
	f.putRaw(tb, item)
}

// putEvent stores ev at position seq of request r1, as the store would.
func (f *fixture) putEvent(tb testing.TB, seq int, ev Event) {
	tb.Helper()
	item, err := attributevalue.MarshalMap(eventItem{PK: "REQ#r1", SK: eventSK(seq), RequestID: "r1", Event: ev})
	if err != nil {
		tb.Fatal(err)
	}
	f.putRaw(tb, item)
}

// Concurrent appenders produce one gapless, valid chain.
func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, newRequest("r1", "kA"))
	f.st = f.with(Config{AppendAttempts: 200}, nil)
	const writers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := f.st.AppendEvent(context.Background(), "r1", Event{Type: "step", Actor: fmt.Sprintf("writer%d", w), Data: map[string]string{"i": fmt.Sprint(i)}})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}
	rep, err := f.st.VerifyChain(context.Background(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Events != writers*each || rep.HeadSeq != writers*each || rep.RecordedSeq != writers*each {
		t.Errorf("report = %+v; want OK with %d events, head and recorded head %d", rep, writers*each, writers*each)
	}
}

// An appender that keeps losing the race gives up with ErrContention.
func TestAppendContention(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, newRequest("r1", "kA"))
	st := f.with(Config{AppendAttempts: 1}, newBarrierDB(f.db, 2, "PutItem"))
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = st.AppendEvent(context.Background(), "r1", Event{Type: "step", Actor: "test"})
		})
	}
	wg.Wait()
	lost := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrContention):
			lost++
		case err != nil:
			t.Errorf("append: %v, want nil or ErrContention", err)
		}
	}
	if lost != 1 {
		t.Errorf("%d appenders got ErrContention (%v), want 1", lost, errs)
	}
	if rep, err := f.st.VerifyChain(context.Background(), "r1"); err != nil || !rep.OK() || rep.Events != 1 {
		t.Errorf("chain = %+v, %v; want one valid event", rep, err)
	}
}

// When recording the head lagged (a crash after the event's put), the next
// append still finds the real head, and the recorded head catches up.
func TestAppendAfterLaggingHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, newRequest("r1", "kA"))
	appendN(t, f.st, "r1", 3)
	item := f.rawItem(t, "REQ#r1", "REQUEST")
	item["auditSeq"] = &types.AttributeValueMemberN{Value: "1"}
	item["auditHead"] = f.rawItem(t, "REQ#r1", eventSK(1))["hash"]
	f.putRaw(t, item)
	ev, err := f.st.AppendEvent(context.Background(), "r1", Event{Type: "after", Actor: "test"})
	if err != nil || ev.Seq != 4 {
		t.Fatalf("append = seq %d, %v; want seq 4", ev.Seq, err)
	}
	rep, err := f.st.VerifyChain(context.Background(), "r1")
	if err != nil || !rep.OK() || rep.RecordedSeq != 4 {
		t.Errorf("report = %+v, %v; want OK with recorded head 4", rep, err)
	}
}
