package console

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/phone"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// Queue item kinds: what a person must do.
const (
	itemVerification = "verification" // manual verification: documents, guardians, agents
	itemIdentity     = "identity"     // identity mismatches, unresolved identities
	itemReview       = "review"       // duplicates, repeats, legal holds
	itemPartners     = "partners"     // escalated partners
	itemBackups      = "backups"      // escalated backup confirmation
	itemMail         = "mail"         // triaged mail
	itemReply        = "reply"        // a requester's reply that joined its request
)

// DueSoonDays: requests due within this many working days (or late) are
// listed beside the queue.
const DueSoonDays = 3

// queueItem is one thing that waits for a person.
type queueItem struct {
	What      string // item kind
	Cause     string // cause or reason code
	RequestID string
	MailKey   string
	Kind      dsr.Kind
	Status    dsr.Status
	Since     time.Time
	due
}

// due is a deadline as the console shows it.
type due struct {
	// At is the due date; nil when the clock has not started.
	At *time.Time
	// Sort orders items: At, or for an undated item the day it would be
	// due if the clock started on its receipt.
	Sort time.Time
	// Left is the working days left (negative: late); Estimated when a
	// count crossed a year without holiday data.
	Left      int
	Estimated bool
	Paused    bool
}

// dueOf is r's deadline as seen today.
func (h *Handler) dueOf(r *dsr.Request, received time.Time) due {
	today := workday.DateOf(h.now().In(workday.ChinaTime))
	d := due{Paused: r != nil && r.PausedAt != nil}
	if r != nil && r.DueAt != nil {
		at := *r.DueAt
		d.At, d.Sort = &at, at
		d.Left, d.Estimated = h.cal.WorkdaysBetween(today, workday.DateOf(at.In(workday.ChinaTime)))
		return d
	}
	dl, err := h.cal.Due(h.rule, workday.DateOf(received.In(workday.ChinaTime)))
	if err != nil {
		d.Sort = received
		return d
	}
	d.Sort = dl.At()
	return d
}

// Late reports whether the due date has passed.
func (d due) Late() bool { return d.At != nil && !d.Paused && d.Left < 0 }

// queueView is the queue page.
type queueView struct {
	Items   []queueItem
	Counts  []statusCount
	DueSoon []queueItem
	Open    int
	// Failed names parts that could not be read (codes): the page shows
	// what it has.
	Failed []string
}

type statusCount struct {
	Status dsr.Status
	N      int
}

// queue builds the queue: every open request's waits (one query each for
// those in review or escalated), the triage list, the counts per open
// status and what is due soon. Everything comes through the indexes
// (GSI2 OPEN, MAIL#TRIAGE): nothing is scanned.
func (h *Handler) queue(ctx context.Context) (*queueView, error) {
	open, err := h.store.ListOpen(ctx)
	if err != nil {
		return nil, err
	}
	v := &queueView{Open: len(open)}
	counts := map[dsr.Status]int{}
	for i := range open {
		r := &open[i]
		counts[r.Status]++
		d := h.dueOf(r, r.CreatedAt)
		if d.At != nil && (d.Paused || d.Left <= DueSoonDays) {
			v.DueSoon = append(v.DueSoon, queueItem{RequestID: r.ID, Kind: r.Kind, Status: r.Status, Since: r.CreatedAt, due: d})
		}
		items, err := h.requestItems(ctx, r, d)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, items...)
	}
	mails, err := h.store.ListTriage(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range mails {
		_, code, _ := strings.Cut(m.Reason, ": ")
		if m.Action == "follow_up" {
			v.Items = append(v.Items, queueItem{What: itemReply, Cause: "follow_up", MailKey: m.DedupeKey, RequestID: m.RequestID, Kind: dsr.Kind(m.Kind), Since: m.ReceivedAt, due: h.dueOf(nil, m.ReceivedAt)})
			continue
		}
		v.Items = append(v.Items, queueItem{What: itemMail, Cause: code, MailKey: m.DedupeKey, Kind: dsr.Kind(m.Kind), Since: m.ReceivedAt, due: h.dueOf(nil, m.ReceivedAt)})
	}
	for _, s := range dsr.Statuses() {
		if counts[s] > 0 {
			v.Counts = append(v.Counts, statusCount{Status: s, N: counts[s]})
		}
	}
	// Oldest due first; on the same due time a real due date before one
	// assumed from the day it came, then whoever waited longer.
	byDue := func(a, b queueItem) int {
		return cmp.Or(a.Sort.Compare(b.Sort), cmp.Compare(undated(a), undated(b)), a.Since.Compare(b.Since),
			cmp.Compare(a.RequestID+a.MailKey, b.RequestID+b.MailKey))
	}
	slices.SortStableFunc(v.Items, byDue)
	slices.SortStableFunc(v.DueSoon, byDue)
	return v, nil
}

func undated(it queueItem) int {
	if it.At == nil {
		return 1
	}
	return 0
}

// requestItems are what request r waits on a person for.
func (h *Handler) requestItems(ctx context.Context, r *dsr.Request, d due) ([]queueItem, error) {
	var out []queueItem
	item := func(what, cause string, since time.Time) queueItem {
		return queueItem{What: what, Cause: cause, RequestID: r.ID, Kind: r.Kind, Status: r.Status, Since: since, due: d}
	}
	switch r.Status {
	case dsr.StatusInReview:
		waits, err := h.store.ListOperatorWaits(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, w := range openWaits(waits) {
			out = append(out, item(w.Stage, w.Cause, w.RequestedAt))
		}
	case dsr.StatusEscalated:
		tasks, err := h.store.ListPartnerTasks(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if t.Status == store.PartnerFailed || t.Status == store.PartnerEscalated {
				out = append(out, item(itemPartners, t.PartnerID, t.UpdatedAt))
			}
		}
		tok, err := h.store.TaskToken(ctx, r.ID, backupsWait)
		if err != nil {
			return nil, err
		}
		if tok != "" {
			out = append(out, item(itemBackups, "backups", r.UpdatedAt))
		}
	}
	return out, nil
}

// backupsWait is the task token name of the backup escalation
// (workflow.BackupsWait).
const backupsWait = "backups"

// openWaits are the undecided waits the workflow waits on.
func openWaits(ws []store.OperatorWait) []store.OperatorWait {
	var out []store.OperatorWait
	for _, w := range ws {
		if w.Decided == nil && w.TaskToken != "" {
			out = append(out, w)
		}
	}
	return out
}

func (h *Handler) getQueue(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	p := h.newPage(r, l, "queue.title")
	p.Notice = doneText(l, r.URL.Query().Get("done"))
	v, err := h.queue(r.Context())
	if err != nil {
		h.fail(w, r, l, "", err)
		return
	}
	p.Queue = v
	h.render(w, http.StatusOK, p, queueMain(p))
}

// requestIDPattern is a request ID as intake derives it.
var requestIDPattern = regexp.MustCompile(`^r-[a-z2-7]{26}$`)

// MaxQuery bounds a search query, in bytes.
const MaxQuery = 256

// query is a search parsed: a request ID, or an email or phone as a hint
// key.
type query struct {
	RequestID string
	Type      dsr.IdentifierType
	Key       string
}

// errQuery is a search that is none of the three.
var errQuery = errors.New("not a request ID, an email address or a phone number")

// parseQuery reads what an operator typed into the search: a request ID,
// an email address (normalized as intake does) or a phone number (E.164,
// internal/phone), whose keyed hash is looked up in the hint index.
func parseQuery(secret []byte, q string) (query, error) {
	q = strings.TrimSpace(q)
	if q == "" || len(q) > MaxQuery {
		return query{}, errQuery
	}
	if requestIDPattern.MatchString(strings.ToLower(q)) {
		return query{RequestID: strings.ToLower(q)}, nil
	}
	if strings.Contains(q, "@") {
		e, err := dsr.ParseEmail(q)
		if err != nil {
			return query{}, errQuery
		}
		return query{Type: dsr.IdentifierEmail, Key: dsr.SubjectKey(secret, dsr.IdentifierEmail, e)}, nil
	}
	if p, err := phone.Parse(q); err == nil {
		return query{Type: dsr.IdentifierPhone, Key: dsr.SubjectKey(secret, dsr.IdentifierPhone, p)}, nil
	}
	if a, err := dsr.ParseAccountID(q); err == nil {
		return query{Type: dsr.IdentifierAccount, Key: dsr.SubjectKey(secret, dsr.IdentifierAccount, a)}, nil
	}
	return query{}, errQuery
}

// searchView is the search page.
type searchView struct {
	Query   string
	Invalid bool
	Type    dsr.IdentifierType
	Results []queueItem
}

func (h *Handler) getSearch(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	raw := r.URL.Query().Get("q")
	p := h.newPage(r, l, "search.title")
	v := &searchView{Query: raw}
	p.Search = v
	q, err := parseQuery(h.secret, raw)
	if err != nil {
		v.Invalid = true
		h.render(w, http.StatusBadRequest, p, searchMain(p))
		return
	}
	if q.RequestID != "" {
		if _, err := h.store.GetRequest(r.Context(), q.RequestID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				h.render(w, http.StatusOK, p, searchMain(p))
				return
			}
			h.fail(w, r, l, "", err)
			return
		}
		http.Redirect(w, r, withLang("/requests/"+q.RequestID, l), http.StatusSeeOther)
		return
	}
	v.Type = q.Type
	found, err := h.store.FindByHint(r.Context(), q.Key)
	if err != nil {
		h.fail(w, r, l, "", err)
		return
	}
	for i := range found {
		f := &found[i]
		v.Results = append(v.Results, queueItem{RequestID: f.ID, Kind: f.Kind, Status: f.Status, Since: f.CreatedAt, due: h.dueOf(f, f.CreatedAt)})
	}
	h.logger.InfoContext(r.Context(), "console search", "type", string(q.Type), "results", len(found))
	h.render(w, http.StatusOK, p, searchMain(p))
}

// leftText is the working days left as the queue shows them.
func leftText(l dsr.Locale, d due) string {
	switch {
	case d.Paused:
		return text(l, "due.paused")
	case d.At == nil:
		return text(l, "due.notStarted")
	case d.Left < 0:
		return text(l, "due.late", -d.Left)
	case d.Left == 0:
		return text(l, "due.today")
	}
	s := text(l, "due.left", d.Left)
	if d.Estimated {
		s += " *"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
