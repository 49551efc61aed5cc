package anchor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"dsrflow/internal/store"
)

// Source reads anchors back.
type Source interface {
	// List returns the names stored after the name after ("" for every
	// one), in name order.
	List(ctx context.Context, after string) ([]string, error)
	// Read returns what is stored under name; more than limit bytes is an
	// error.
	Read(ctx context.Context, name string, limit int64) ([]byte, error)
}

// Chains is the part of the store Verify uses.
type Chains interface {
	VerifyChain(ctx context.Context, id string) (store.ChainReport, error)
	ListEvents(ctx context.Context, id string) ([]store.Event, error)
}

// VerifyConfig says which anchors Verify reads and how many chains it
// reads at once.
type VerifyConfig struct {
	// Since: only anchors written at or after it (zero: every anchor).
	Since time.Time
	// Workers bounds the anchors and chains read at once; default
	// DefaultWorkers.
	Workers int
}

// Kind says what happened to an anchored chain.
type Kind string

const (
	// KindRewritten: an event the anchor covers has another hash than the
	// chain had when anchored, or is missing, or the chain no longer
	// verifies up to the anchored event.
	KindRewritten Kind = "rewritten"
	// KindTruncated: the chain ends before the anchored event.
	KindTruncated Kind = "truncated"
	// KindDeleted: the request, or every event of its chain, is gone.
	KindDeleted Kind = "deleted"
	// KindBroken: the anchored events are intact, but the chain fails
	// verification after the last of them (store.VerifyChain).
	KindBroken Kind = "broken"
)

// Finding is one request whose chain does not match its anchors.
type Finding struct {
	RequestID string `json:"requestId"`
	Kind      Kind   `json:"kind"`
	// Anchor, AnchoredSeq and AnchoredHash are the anchored head the
	// chain fails: the earliest one.
	Anchor       string `json:"anchor"`
	AnchoredSeq  int    `json:"anchoredSeq"`
	AnchoredHash string `json:"anchoredHash"`
	// HeadSeq is the last event the table holds now (0 when none).
	HeadSeq int `json:"headSeq"`
	// Detail says where, with sequence numbers only.
	Detail string `json:"detail"`
}

// BadAnchor is an object among the anchors that is not a valid anchor:
// renamed, replaced, cut short or not one at all.
type BadAnchor struct {
	Name    string `json:"name"`
	Problem string `json:"problem"`
}

// Report is Verify's result.
type Report struct {
	Since *time.Time `json:"since,omitempty"`
	// Anchors counts the anchors read; Chains the requests checked.
	Anchors    int         `json:"anchors"`
	Chains     int         `json:"chains"`
	Findings   []Finding   `json:"findings,omitempty"`
	BadAnchors []BadAnchor `json:"badAnchors,omitempty"`
}

// OK reports whether every anchored chain matches and every anchor is valid.
func (r Report) OK() bool { return len(r.Findings) == 0 && len(r.BadAnchors) == 0 }

// anchored is one anchored head of a request.
type anchored struct {
	seq    int
	hash   string
	anchor string
}

// Verify reads the anchors of src (those written since cfg.Since) and
// checks every request they name against its chain in the table: each
// anchored head must still be there, with the same hash, and the chain
// must verify up to it. It names each request whose chain was rewritten,
// truncated or deleted after it was anchored (one Finding per request, the
// earliest anchored head that fails), and every object among the anchors
// that is not a valid anchor. The error is for failures to read.
func Verify(ctx context.Context, cfg VerifyConfig, src Source, chains Chains) (Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	var rep Report
	if !cfg.Since.IsZero() {
		since := cfg.Since.UTC()
		rep.Since = &since
	}
	names, err := src.List(ctx, sinceName(cfg.Since))
	if err != nil {
		return rep, fmt.Errorf("verify anchors: list: %w", err)
	}
	docs := make([]Document, len(names))
	bad := make([]string, len(names))
	err = forEach(ctx, cfg.Workers, len(names), func(ctx context.Context, i int) error {
		if !ValidName(names[i]) {
			bad[i] = "not an anchor's name"
			return nil
		}
		body, err := src.Read(ctx, names[i], MaxDocumentBytes)
		if errors.Is(err, ErrTooLarge) {
			bad[i] = fmt.Sprintf("%s: more than %d bytes", ErrInvalid, MaxDocumentBytes)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", names[i], err)
		}
		if docs[i], err = Parse(names[i], body); err != nil {
			bad[i] = err.Error()
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify anchors: %w", err)
	}
	heads := map[string][]anchored{}
	for i, doc := range docs {
		if bad[i] != "" {
			rep.BadAnchors = append(rep.BadAnchors, BadAnchor{Name: names[i], Problem: bad[i]})
			continue
		}
		rep.Anchors++
		for _, h := range doc.Chains {
			heads[h.RequestID] = append(heads[h.RequestID], anchored{seq: h.Seq, hash: h.Hash, anchor: names[i]})
		}
	}

	ids := make([]string, 0, len(heads))
	for id := range heads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rep.Chains = len(ids)
	var mu sync.Mutex
	err = forEach(ctx, cfg.Workers, len(ids), func(ctx context.Context, i int) error {
		f, err := check(ctx, chains, ids[i], heads[ids[i]])
		if err != nil || f == nil {
			return err
		}
		mu.Lock()
		rep.Findings = append(rep.Findings, *f)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify anchors: %w", err)
	}
	slices.SortFunc(rep.Findings, func(a, b Finding) int { return strings.Compare(a.RequestID, b.RequestID) })
	return rep, nil
}

// check compares request id's chain with its anchored heads; nil when they
// match.
func check(ctx context.Context, chains Chains, id string, heads []anchored) (*Finding, error) {
	// Earliest head first; of equal heads, the earliest anchor.
	slices.SortFunc(heads, func(a, b anchored) int {
		if a.seq != b.seq {
			return a.seq - b.seq
		}
		if c := strings.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return strings.Compare(a.anchor, b.anchor)
	})
	heads = slices.CompactFunc(heads, func(a, b anchored) bool { return a.seq == b.seq && a.hash == b.hash })
	finding := func(kind Kind, h anchored, headSeq int, format string, args ...any) *Finding {
		return &Finding{RequestID: id, Kind: kind, Anchor: h.anchor, AnchoredSeq: h.seq, AnchoredHash: h.hash,
			HeadSeq: headSeq, Detail: fmt.Sprintf(format, args...)}
	}

	rep, err := chains.VerifyChain(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return finding(KindDeleted, heads[0], 0, "the request is gone; the anchor holds event %d", heads[0].seq), nil
	}
	if err != nil {
		return nil, err
	}
	events, err := chains.ListEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return finding(KindDeleted, heads[0], 0, "every audit event is gone; the anchor holds event %d", heads[0].seq), nil
	}
	hashAt := make(map[int]string, len(events))
	for _, ev := range events {
		if _, dup := hashAt[ev.Seq]; !dup {
			hashAt[ev.Seq] = ev.Hash
		}
	}
	for _, h := range heads {
		got, ok := hashAt[h.seq]
		switch {
		case !ok && h.seq > rep.HeadSeq:
			return finding(KindTruncated, h, rep.HeadSeq, "the chain ends at event %d; the anchor holds event %d", rep.HeadSeq, h.seq), nil
		case !ok:
			return finding(KindRewritten, h, rep.HeadSeq, "anchored event %d is missing", h.seq), nil
		case got != h.hash:
			return finding(KindRewritten, h, rep.HeadSeq, "event %d has another hash than anchored", h.seq), nil
		}
	}
	last := heads[len(heads)-1]
	for _, p := range rep.Problems {
		if p.Seq <= last.seq {
			return finding(KindRewritten, last, rep.HeadSeq, "event %d: %s, at or before anchored event %d", p.Seq, p.Reason, last.seq), nil
		}
	}
	if len(rep.Problems) > 0 {
		p := rep.Problems[0]
		return finding(KindBroken, last, rep.HeadSeq, "event %d: %s, after anchored event %d", p.Seq, p.Reason, last.seq), nil
	}
	return nil, nil
}
