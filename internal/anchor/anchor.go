// Package anchor keeps copies of the audit chains' heads outside the table
// (audit anchors), and checks the table against them.
//
// Every request's audit trail in the table is a hash chain (store.Event):
// an edited event breaks it, but a chain rewritten in full, every hash
// recomputed, or cut short together with the head recorded on its request,
// still verifies, because the chain has no secret. An anchor closes that
// gap: it is a small JSON document (Document) holding, for each request
// whose chain changed since it was last anchored, the sequence number and
// hash of the chain's last event, written where the table's writers cannot
// rewrite it: an S3 bucket with Object Lock in compliance mode in AWS
// (s3anchor), a folder locally (Dir). No personal data: request IDs,
// numbers and hashes.
//
// Anchorer.Anchor runs once a day (functions/anchor-audit): it lists the
// chains changed since their last anchor through the store's index
// (store.UnanchoredChains, no scan), verifies each (store.VerifyChain: a
// chain that is already broken is logged and left out, never anchored),
// writes their heads as one anchor per page, then marks them anchored
// (store.MarkAnchored). Anchorer.AnchorRequest does the same for one
// request at once, when it closes. Where the last anchor stands is kept per
// request in the table: membership of the store's index of unanchored
// chains, and the last anchored event on the request item
// (store.MarkAnchored); the anchors themselves are the record. Chains
// written before anchors existed enter the index once through
// store.BackfillUnanchored (`dsr audit backfill`).
//
// Verify reads the anchors back (every one, or those written since a date),
// re-reads each anchored chain through the store and names every request
// whose chain was rewritten, truncated or deleted after it was anchored.
//
// An anchor's name is <time>-<reason>-<digest>.json (20260302T090000.000000000Z-daily-<32 hex>.json):
// names sort by time, and the digest (the first half of the SHA-256 of the
// document) makes an anchor replaced under its own name show. Writing
// another anchor cannot hide a rewrite either: Verify checks the chain
// against every anchored head, not only the latest.
package anchor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"dsrflow/internal/store"
)

// Store is the part of the store the Anchorer uses.
type Store interface {
	UnanchoredChains(ctx context.Context, limit int, cursor string) (store.UnanchoredPage, error)
	MarkAnchored(ctx context.Context, id string, seq int) error
	VerifyChain(ctx context.Context, id string) (store.ChainReport, error)
}

// Sink keeps anchors. Put stores body under name and never replaces an
// anchor already stored under that name.
type Sink interface {
	Put(ctx context.Context, name string, body []byte) error
}

// Defaults of Config's zero fields.
const (
	DefaultMaxChains = 5000
	DefaultWorkers   = 8
)

// Config sets the Anchorer's limits.
type Config struct {
	// MaxChains bounds the heads of one anchor, and so the chains read per
	// page of the index; default DefaultMaxChains, at most MaxHeads.
	MaxChains int
	// Workers bounds the chains verified at once; default DefaultWorkers.
	Workers int
}

// Deps are the Anchorer's store, sink, clock and logger.
type Deps struct {
	Store Store
	Sink  Sink
	// Clock dates the anchors; default time.Now.
	Clock func() time.Time
	// Logger gets a line per anchor written and per broken chain; default
	// slog.Default().
	Logger *slog.Logger
}

// Anchorer writes anchors.
type Anchorer struct {
	cfg    Config
	store  Store
	sink   Sink
	clock  func() time.Time
	logger *slog.Logger
}

// New returns an Anchorer; the store and the sink are required.
func New(cfg Config, deps Deps) (*Anchorer, error) {
	if deps.Store == nil || deps.Sink == nil {
		return nil, errors.New("anchor: store and sink are required")
	}
	if cfg.MaxChains <= 0 {
		cfg.MaxChains = DefaultMaxChains
	}
	if cfg.MaxChains > MaxHeads {
		return nil, fmt.Errorf("anchor: MaxChains %d, limit %d", cfg.MaxChains, MaxHeads)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	a := &Anchorer{cfg: cfg, store: deps.Store, sink: deps.Sink, clock: deps.Clock, logger: deps.Logger}
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	return a, nil
}

// Result says what an anchoring did.
type Result struct {
	// Anchors are the names of the anchors written.
	Anchors []string `json:"anchors"`
	// Chains counts the chain heads they hold.
	Chains int `json:"chains"`
	// Broken are the requests whose chain failed verification and was not
	// anchored; each is logged with its problems. They stay in the index,
	// so every run names them again until someone looks.
	Broken []string `json:"broken,omitempty"`
}

// Anchor writes the heads of every audit chain changed since its last
// anchor, one anchor per MaxChains chains, and marks them anchored. A chain
// that changes meanwhile stays marked for the next run. An error leaves the
// chains not yet anchored for the next run; the Result says what was done
// before it.
func (a *Anchorer) Anchor(ctx context.Context) (Result, error) {
	var res Result
	cursor := ""
	for {
		page, err := a.store.UnanchoredChains(ctx, a.cfg.MaxChains, cursor)
		if err != nil {
			return res, fmt.Errorf("anchor audit chains: %w", err)
		}
		if err := a.anchor(ctx, ReasonDaily, page.IDs, &res); err != nil {
			return res, fmt.Errorf("anchor audit chains: %w", err)
		}
		if page.Next == "" {
			return res, nil
		}
		cursor = page.Next
	}
}

// ChainBrokenError is AnchorRequest's answer for a chain that fails
// verification: it is not anchored.
type ChainBrokenError struct {
	RequestID string
	Problems  []store.ChainProblem
}

func (e *ChainBrokenError) Error() string {
	return fmt.Sprintf("audit chain of %s is broken (%d problems, first at event %d: %s); not anchored",
		e.RequestID, len(e.Problems), e.Problems[0].Seq, e.Problems[0].Reason)
}

// AnchorRequest anchors request id's chain at once (when the request
// closes), whether or not it changed since its last anchor. A request
// without events writes nothing; a broken chain is a *ChainBrokenError; a
// request that does not exist is store.ErrNotFound.
func (a *Anchorer) AnchorRequest(ctx context.Context, id string) (Result, error) {
	if !validRequestID(id) {
		return Result{}, fmt.Errorf("anchor audit chain: invalid request ID")
	}
	rep, err := a.store.VerifyChain(ctx, id)
	if err != nil {
		return Result{}, fmt.Errorf("anchor audit chain of %s: %w", id, err)
	}
	if !rep.OK() {
		return Result{Broken: []string{id}}, &ChainBrokenError{RequestID: id, Problems: rep.Problems}
	}
	var res Result
	if rep.HeadSeq == 0 {
		return res, nil
	}
	if err := a.write(ctx, ReasonClosed, []Head{{RequestID: id, Seq: rep.HeadSeq, Hash: rep.HeadHash}}, &res); err != nil {
		return res, fmt.Errorf("anchor audit chain of %s: %w", id, err)
	}
	return res, nil
}

// anchor verifies the chains of ids, writes the heads of those intact as
// one anchor and marks them anchored.
func (a *Anchorer) anchor(ctx context.Context, reason Reason, ids []string, res *Result) error {
	heads := make([]Head, len(ids))
	broken := make([]bool, len(ids))
	err := forEach(ctx, a.cfg.Workers, len(ids), func(ctx context.Context, i int) error {
		id := ids[i]
		rep, err := a.store.VerifyChain(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted since it was listed: nothing to anchor
		}
		if err != nil {
			return err
		}
		if !rep.OK() {
			broken[i] = true
			a.logger.Error("audit chain broken; not anchored", "requestId", id, "problems", problems(rep.Problems))
			return nil
		}
		if !validRequestID(id) {
			broken[i] = true
			a.logger.Error("request ID cannot be anchored; not anchored", "requestId", id)
			return nil
		}
		if rep.HeadSeq > 0 {
			heads[i] = Head{RequestID: id, Seq: rep.HeadSeq, Hash: rep.HeadHash}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var keep []Head
	for i, h := range heads {
		if broken[i] {
			res.Broken = append(res.Broken, ids[i])
		}
		if h.Seq > 0 {
			keep = append(keep, h)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return a.write(ctx, reason, keep, res)
}

// write stores heads (in request ID order) as one anchor, then marks each
// chain anchored at its head.
func (a *Anchorer) write(ctx context.Context, reason Reason, heads []Head, res *Result) error {
	slices.SortFunc(heads, func(x, y Head) int { return strings.Compare(x.RequestID, y.RequestID) })
	heads = slices.CompactFunc(heads, func(x, y Head) bool { return x.RequestID == y.RequestID })
	doc := Document{Format: Format, At: a.clock().UTC(), Reason: reason, Chains: heads}
	name, body, err := encode(doc)
	if err != nil {
		return err
	}
	if err := a.sink.Put(ctx, name, body); err != nil {
		return fmt.Errorf("write anchor %s: %w", name, err)
	}
	res.Anchors = append(res.Anchors, name)
	res.Chains += len(heads)
	a.logger.Info("audit anchor written", "anchor", name, "reason", string(reason), "chains", len(heads))
	return forEach(ctx, a.cfg.Workers, len(heads), func(ctx context.Context, i int) error {
		return a.store.MarkAnchored(ctx, heads[i].RequestID, heads[i].Seq)
	})
}

// problems renders a chain's problems for a log line: positions and
// reasons, no content.
func problems(ps []store.ChainProblem) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d:%s", p.Seq, p.Reason))
	}
	return out
}

// forEach calls fn for 0..n-1 on at most workers goroutines; the first
// error cancels the rest and is returned.
func forEach(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
