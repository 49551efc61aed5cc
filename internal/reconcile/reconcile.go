// Package reconcile finds the requests the normal path left behind and acts on
// them, or raises an alarm. It runs on a schedule (functions/reconcile, an
// EventBridge rule) and once when the local stack starts.
//
// One pass reads every open request through the store's open index
// (store.ListOpen: a GSI query, no scan; requests hold no personal data)
// and sorts each into at most one action and at most one alarm:
//
//  1. Written but never started (status received, ExecutionStarted false,
//     created more than Grace ago): intake's Starter starts it (name =
//     request ID; an execution that exists already counts as started).
//  2. Started, but no execution is running for it. The request's executions
//     are named <id>, <id>-r1, <id>-r2, …; the latest one that exists is the
//     current one (DescribeExecution by name, in that order).
//     - none exists (the local engine lost its executions in a restart, or AWS
//     no longer keeps a closed one): start <id> again; the task handlers are
//     idempotent, so the workflow resumes where the request's status says.
//     - the latest FAILED, TIMED_OUT or ABORTED: start the next name, at most
//     MaxRestarts times (AWS forbids reusing an execution name for 90 days,
//     hence new names); after that the request is stuck and alarms
//     (metric ExecutionsStuck, log "execution stuck").
//     - the latest SUCCEEDED while the request is still open: stuck, alarm.
//  3. Due within DueSoonDays Chinese working days (policy 五.5): alarm
//     (RequestsDueSoon); already past its due date: alarm (RequestsPastDue).
//     Nothing is restarted for being late: a late request that still runs is
//     waiting for a person or a partner, and that is what the alarm is for.
//
// Then the pass checks the calendar and sweeps personal data:
//
//   - Calendar: when the Chinese holiday data does not reach
//     CalendarHorizonDays ahead, due dates are about to be estimated
//     (counted Monday to Friday): alarm (CalendarDataMissing = 1, else 0,
//     and a log line naming the last covered day) until
//     config/holidays/cn/<year>.json is added.
//   - Purge sweep (purge.go): closed requests whose personal data the
//     workflow's Purge step should have deleted (closed more than
//     ContactRetention + PurgeGrace ago) but did not are purged here, at
//     most PurgeLimit per pass, found through the store's purge index (no
//     scan) and audited (PersonalDataSwept counts them).
//
// Alarms are CloudWatch embedded-metric-format lines (namespace "dsrflow") on
// Metrics, one per pass: in Lambda, stdout becomes metrics with no API call,
// and CloudWatch alarms watch them. Logs and metrics carry request IDs and
// counts, never personal data.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// Defaults of Reconciler's zero fields.
const (
	DefaultGrace       = 2 * time.Minute
	DefaultDueSoonDays = 3
	DefaultMaxRestarts = 3
	// Namespace is the CloudWatch namespace of the metrics.
	Namespace = "dsrflow"
)

// Metric names (CloudWatch alarms refer to them: keep them stable).
const (
	MetricRequestsStarted     = "RequestsStarted"
	MetricExecutionsRestarted = "ExecutionsRestarted"
	MetricExecutionsStuck     = "ExecutionsStuck"
	MetricRequestsDueSoon     = "RequestsDueSoon"
	MetricRequestsPastDue     = "RequestsPastDue"
	MetricReconcileErrors     = "ReconcileErrors"
	// MetricCalendarDataMissing is 1 when the holiday data does not cover
	// the next CalendarHorizonDays days, else 0.
	MetricCalendarDataMissing = "CalendarDataMissing"
	// MetricPersonalDataSwept counts the requests whose personal data the
	// pass purged because the workflow had not.
	MetricPersonalDataSwept = "PersonalDataSwept"
	// MetricPersonalDataPurgeBlocked counts the requests due for the sweep
	// that it could not purge: they have documents and no document storage
	// is wired (RECONCILE_DELETE_DOCUMENTS).
	MetricPersonalDataPurgeBlocked = "PersonalDataPurgeBlocked"
)

// SFN is the part of the Step Functions client the reconciler uses.
type SFN interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Documents deletes documents' objects (internal/documents.S3).
type Documents interface {
	Delete(ctx context.Context, bucket, key string) error
}

// Reconciler finds and repairs requests left behind. Build it with New.
type Reconciler struct {
	store   *store.Store
	sfn     SFN
	docs    Documents
	cal     *workday.Calendar
	arn     string
	starter *intake.Starter
	cfg     Config
	clock   func() time.Time
	metrics io.Writer
	logger  *slog.Logger

	mu     sync.Mutex
	warned map[string]string // request ID -> the warning last logged
	logged int               // warnings logged in the current pass
	// calendarWarned is the last covered day last warned about ("" when
	// the data covered the horizon on the last pass).
	calendarWarned string
}

// Report is what one pass found and did; lists hold request IDs.
type Report struct {
	Open      int      `json:"open"`
	Started   []string `json:"started,omitempty"`
	Restarted []string `json:"restarted,omitempty"`
	Stuck     []string `json:"stuck,omitempty"`
	DueSoon   []string `json:"dueSoon,omitempty"`
	PastDue   []string `json:"pastDue,omitempty"`
	// CalendarDataMissing is set when the holiday data does not cover the
	// next CalendarHorizonDays days; CalendarDataEnds is its last day.
	CalendarDataMissing bool   `json:"calendarDataMissing"`
	CalendarDataEnds    string `json:"calendarDataEnds,omitempty"`
	// Purged are the requests whose personal data the sweep purged;
	// PurgeBlocked those it could not (documents, no document storage).
	Purged       []string `json:"purged,omitempty"`
	PurgeBlocked []string `json:"purgeBlocked,omitempty"`
	// PurgeBacklog is set when the sweep stopped at its bound with more
	// to read: the next pass continues.
	PurgeBacklog bool `json:"purgeBacklog,omitempty"`
	// Backfilled counts the requests closed before the purge index existed
	// that this pass put into it (store.BackfillPurgeIndex).
	Backfilled int `json:"backfilled,omitempty"`
	Errors     int `json:"errors"`
}

// Handle is the Lambda handler for the scheduled EventBridge event.
func (r *Reconciler) Handle(ctx context.Context, _ events.EventBridgeEvent) (Report, error) {
	return r.Run(ctx)
}

// Run makes one pass. It acts on every request it can; the error joins the
// failures (naming request IDs) and is nil when every action succeeded.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	now := r.now()
	rep := Report{}
	reqs, err := r.store.ListOpen(ctx)
	if err != nil {
		rep.Errors++
		r.emit(now, rep)
		return rep, err
	}
	rep.Open = len(reqs)
	var errs []error
	r.mu.Lock()
	r.logged = 0
	r.mu.Unlock()
	seen := make(map[string]bool, len(reqs))
	for i := range reqs {
		req := &reqs[i]
		seen[req.ID] = true
		if err := r.one(ctx, now, req, &rep); err != nil {
			rep.Errors++
			errs = append(errs, err)
		}
	}
	r.checkCalendar(ctx, now, &rep)
	for _, err := range r.sweep(ctx, now, &rep) {
		rep.Errors++
		errs = append(errs, err)
	}
	for _, id := range rep.PurgeBlocked {
		seen[id] = true
	}
	warnedNow := r.forgetWarnings(seen)
	r.emit(now, rep)
	level := slog.LevelInfo
	acted := len(rep.Started)+len(rep.Restarted)+len(rep.Stuck)+len(rep.Purged)+rep.Backfilled+rep.Errors > 0
	warn := len(rep.DueSoon)+len(rep.PastDue)+len(rep.PurgeBlocked) > 0 || rep.CalendarDataMissing
	if !acted && (!warn || (r.cfg.QuietRepeats && !warnedNow)) {
		level = slog.LevelDebug
	}
	r.log().Log(ctx, level, "reconcile pass", "open", rep.Open, "started", len(rep.Started), "restarted", len(rep.Restarted),
		"stuck", len(rep.Stuck), "dueSoon", len(rep.DueSoon), "pastDue", len(rep.PastDue),
		"calendarDataMissing", rep.CalendarDataMissing, "purged", len(rep.Purged), "purgeBlocked", len(rep.PurgeBlocked),
		"errors", rep.Errors)
	return rep, errors.Join(errs...)
}

// checkCalendar sets the report's calendar fields and logs a warning when
// the holiday data does not cover the next CalendarHorizonDays days (with
// QuietRepeats, when that first appears or its last day changes).
func (r *Reconciler) checkCalendar(ctx context.Context, now time.Time, rep *Report) {
	missing, end := r.cal.MissingWithin(now, r.cfg.CalendarHorizonDays)
	rep.CalendarDataMissing, rep.CalendarDataEnds = missing, end.String()
	r.mu.Lock()
	last := r.calendarWarned
	if missing {
		r.calendarWarned = end.String()
	} else {
		r.calendarWarned = ""
	}
	log := missing && (!r.cfg.QuietRepeats || last != end.String())
	if log {
		r.logged++
	}
	r.mu.Unlock()
	if log {
		r.log().WarnContext(ctx, "holiday calendar data runs out: add the State Council's notice as config/holidays/cn/<year>.json",
			"dataEnds", end.String(), "horizonDays", r.cfg.CalendarHorizonDays, "nextYear", end.Year+1)
	}
}

// shouldWarn reports whether warning (a kind; "" for none) is to be logged
// for request id: always, unless QuietRepeats and it was the last logged.
func (r *Reconciler) shouldWarn(id, warning string) bool {
	if !r.cfg.QuietRepeats {
		return warning != ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned == nil {
		r.warned = map[string]string{}
	}
	if r.warned[id] == warning {
		return false
	}
	if warning == "" {
		delete(r.warned, id)
		return false
	}
	r.warned[id] = warning
	r.logged++
	return true
}

// forgetWarnings drops the warnings of requests no longer open and
// reports whether the pass logged any.
func (r *Reconciler) forgetWarnings(open map[string]bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.warned {
		if !open[id] {
			delete(r.warned, id)
		}
	}
	return r.logged > 0
}

func (r *Reconciler) one(ctx context.Context, now time.Time, req *dsr.Request, rep *Report) error {
	grace := r.cfg.Grace
	if req.DueAt != nil {
		switch soon, err := r.dueSoon(now, *req.DueAt); {
		case err != nil:
			if r.shouldWarn(req.ID, "calendar") {
				r.log().WarnContext(ctx, "due date outside the working-day calendar", "requestId", req.ID, "error", err.Error())
			}
		case !req.DueAt.After(now):
			rep.PastDue = append(rep.PastDue, req.ID)
			if r.shouldWarn(req.ID, "pastDue") {
				r.log().WarnContext(ctx, "request past due", "requestId", req.ID, "status", string(req.Status))
			}
		case soon:
			rep.DueSoon = append(rep.DueSoon, req.ID)
			if r.shouldWarn(req.ID, "dueSoon") {
				r.log().InfoContext(ctx, "request due soon", "requestId", req.ID, "status", string(req.Status))
			}
		default:
			r.shouldWarn(req.ID, "")
		}
	}
	if !req.ExecutionStarted {
		if req.Status != dsr.StatusReceived || now.Sub(req.CreatedAt) < grace {
			return nil
		}
		if _, err := r.starter.Start(ctx, req); err != nil {
			return fmt.Errorf("start request %s: %w", req.ID, err)
		}
		rep.Started = append(rep.Started, req.ID)
		r.log().InfoContext(ctx, "started unstarted request", "requestId", req.ID)
		return nil
	}
	if now.Sub(req.UpdatedAt) < grace && now.Sub(req.CreatedAt) < grace {
		return nil
	}
	n, status, err := r.latest(ctx, req.ID)
	if err != nil {
		return err
	}
	switch status {
	case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		return nil
	case "":
		// No execution exists under any of the request's names.
		return r.restart(ctx, req.ID, 0, rep)
	case sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted:
		if n < r.maxRestarts() {
			return r.restart(ctx, req.ID, n+1, rep)
		}
	}
	rep.Stuck = append(rep.Stuck, req.ID)
	r.log().ErrorContext(ctx, "execution stuck", "requestId", req.ID, "status", string(req.Status),
		"execution", ExecutionName(req.ID, n), "executionStatus", string(status))
	return nil
}

func (r *Reconciler) maxRestarts() int {
	if r.cfg.MaxRestarts > 0 {
		return r.cfg.MaxRestarts
	}
	return DefaultMaxRestarts
}

// ExecutionName is the name of a request's n-th execution: the request ID,
// then <id>-r1, <id>-r2, … for restarts.
func ExecutionName(id string, n int) string {
	if n == 0 {
		return id
	}
	return fmt.Sprintf("%s-r%d", id, n)
}

// ExecutionArn is the ARN of execution name of state machine smArn.
func ExecutionArn(smArn, name string) string {
	return strings.Replace(smArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

// latest returns the number and status of the request's latest existing
// execution; status "" when none exists.
func (r *Reconciler) latest(ctx context.Context, id string) (int, sfntypes.ExecutionStatus, error) {
	n, status := 0, sfntypes.ExecutionStatus("")
	for i := 0; i <= r.maxRestarts(); i++ {
		out, err := r.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ExecutionArn(r.arn, ExecutionName(id, i)))})
		var missing *sfntypes.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			break
		}
		if err != nil {
			return 0, "", fmt.Errorf("describe execution of request %s: %w", id, err)
		}
		n, status = i, out.Status
	}
	return n, status, nil
}

func (r *Reconciler) restart(ctx context.Context, id string, n int, rep *Report) error {
	name := ExecutionName(id, n)
	_, err := r.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(r.arn),
		Name:            aws.String(name),
		Input:           aws.String(intake.ExecutionInput(id)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("restart request %s as %s: %w", id, name, err)
	}
	rep.Restarted = append(rep.Restarted, id)
	r.log().WarnContext(ctx, "restarted execution", "requestId", id, "execution", name)
	return nil
}

// dueSoon reports whether due falls within DueSoonDays Chinese working days
// of now (days counted in China time).
func (r *Reconciler) dueSoon(now, due time.Time) (bool, error) {
	days := r.cfg.DueSoonDays
	if days == 0 {
		days = DefaultDueSoonDays
	}
	limit, err := r.cal.AddWorkdays(workday.DateOf(now.In(workday.ChinaTime)), days)
	if err != nil {
		return false, err
	}
	return !limit.Date.Before(workday.DateOf(due.In(workday.ChinaTime))), nil
}

// emit writes the pass's counts as one CloudWatch embedded-metric-format line.
func (r *Reconciler) emit(now time.Time, rep Report) {
	w := r.metrics
	calendar := 0
	if rep.CalendarDataMissing {
		calendar = 1
	}
	values := []struct {
		name string
		unit string
		v    int
	}{
		{MetricRequestsStarted, "Count", len(rep.Started)},
		{MetricExecutionsRestarted, "Count", len(rep.Restarted)},
		{MetricExecutionsStuck, "Count", len(rep.Stuck)},
		{MetricRequestsDueSoon, "Count", len(rep.DueSoon)},
		{MetricRequestsPastDue, "Count", len(rep.PastDue)},
		{MetricReconcileErrors, "Count", rep.Errors},
		{MetricCalendarDataMissing, "None", calendar},
		{MetricPersonalDataSwept, "Count", len(rep.Purged)},
		{MetricPersonalDataPurgeBlocked, "Count", len(rep.PurgeBlocked)},
	}
	metrics := make([]map[string]string, 0, len(values))
	line := map[string]any{"Service": "reconcile"}
	for _, m := range values {
		metrics = append(metrics, map[string]string{"Name": m.name, "Unit": m.unit})
		line[m.name] = m.v
	}
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{{"Service"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		r.log().Error("encode metrics", "error", err.Error())
		return
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		r.log().Error("write metrics", "error", err.Error())
	}
}

func (r *Reconciler) now() time.Time { return r.clock() }

func (r *Reconciler) log() *slog.Logger { return r.logger }
