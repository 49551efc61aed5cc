package reconcile

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

const docsBucket = "mailbox"

// fakeS3 starts gofakes3 in-process with the documents' bucket.
func fakeS3(t testing.TB) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region:       dynamotest.Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		UsePathStyle: true,
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(docsBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return c
}

// closed stores request id and closes it (refused) at clock time at, with
// personal data and the documents named by keys (objects in s3c when not
// nil); the clock is back at t0 afterwards.
func (f *fixture) closed(id string, at time.Time, s3c *s3.Client, keys ...string) {
	f.t.Helper()
	f.clock.Set(at.Add(-time.Hour))
	f.put(id, dsr.StatusReceived, true, at.Add(-time.Hour), nil)
	for _, k := range keys {
		if s3c != nil {
			if _, err := s3c.PutObject(f.ctx, &s3.PutObjectInput{Bucket: aws.String(docsBucket), Key: aws.String(k), Body: strings.NewReader("%PDF")}); err != nil {
				f.t.Fatalf("put object: %v", err)
			}
		}
		if _, err := f.st.AddDocument(f.ctx, id, store.Document{Bucket: docsBucket, Key: k, ContentType: "application/pdf", Source: "mail"}); err != nil {
			f.t.Fatalf("AddDocument: %v", err)
		}
	}
	r, err := f.st.GetRequest(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	f.clock.Set(at)
	if _, err := f.st.TransitionStatus(f.ctx, id, dsr.StatusReceived, dsr.StatusRefused, r.Version, nil); err != nil {
		f.t.Fatalf("close %s: %v", id, err)
	}
	f.clock.Set(t0)
}

// purged reports whether request id's personal data is gone and recorded
// as purged.
func (f *fixture) purged(id string) bool {
	f.t.Helper()
	_, err := f.st.GetPersonal(f.ctx, id)
	switch {
	case errors.Is(err, store.ErrPurged):
	case err != nil:
		f.t.Fatalf("GetPersonal(%s): %v", id, err)
	default:
		return false
	}
	docs, err := f.st.ListDocuments(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(docs) == 0
}

// purgeEvents returns request id's personal_data_purged events' actors.
func (f *fixture) purgeEvents(id string) []string {
	f.t.Helper()
	evs, err := f.st.ListEvents(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	var actors []string
	for _, e := range evs {
		if e.Type == EventPersonalDataPurged {
			actors = append(actors, e.Actor)
		}
	}
	return actors
}

func objectExists(t *testing.T, c *s3.Client, key string) bool {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(docsBucket), Key: aws.String(key)})
	return err == nil
}

const day = 24 * time.Hour

// TestPurgeSweep: a request closed longer ago than the follow-up period
// and the grace, whose personal data is still there, is purged with its
// documents, once, and audited; the others are left alone.
func TestPurgeSweep(t *testing.T) {
	s3c := fakeS3(t)
	f := newFixture(t, nil, func(d *Deps) { d.Documents = documents.New(s3c) })
	// Retention 720h, grace 1h: due when closed before t0 - 30d - 1h.
	keys := []string{"attachments/r-due/1-person@example.com.pdf", "attachments/r-due/2.pdf"}
	f.closed("r-due", t0.Add(-40*day), s3c, keys...)
	f.closed("r-due-nodocs", t0.Add(-31*day), nil)
	f.closed("r-recent", t0.Add(-10*day), s3c, "attachments/r-recent/1.pdf")
	f.closed("r-in-grace", t0.Add(-30*day-30*time.Minute), nil)
	f.closed("r-workflow-purged", t0.Add(-50*day), nil)
	if _, err := f.st.PurgePersonal(f.ctx, "r-workflow-purged"); err != nil {
		t.Fatal(err)
	}
	f.put("r-open", dsr.StatusInProgress, true, t0.Add(-90*day), nil)
	f.start("r-open", "r-open")

	rep := f.run()
	if got, want := rep.Purged, []string{"r-due", "r-due-nodocs"}; !slices.Equal(got, want) {
		t.Errorf("Purged = %v, want %v (oldest closed first)", got, want)
	}
	if rep.PurgeBacklog || len(rep.PurgeBlocked) != 0 || rep.Errors != 0 {
		t.Errorf("report = %+v, want no backlog, nothing blocked, no errors", rep)
	}
	if m := f.metrics(); m[MetricPersonalDataSwept] != 2 || m[MetricPersonalDataPurgeBlocked] != 0 {
		t.Errorf("metrics = %v, want PersonalDataSwept 2, PersonalDataPurgeBlocked 0", m)
	}
	for _, id := range []string{"r-due", "r-due-nodocs"} {
		if !f.purged(id) {
			t.Errorf("%s: personal data still stored", id)
		}
		if got := f.purgeEvents(id); !slices.Equal(got, []string{ActorSweep}) {
			t.Errorf("%s: purge events by %v, want one by %s", id, got, ActorSweep)
		}
	}
	for _, k := range keys {
		if objectExists(t, s3c, k) {
			t.Errorf("document object %d still in S3", slices.Index(keys, k)+1)
		}
	}
	for _, id := range []string{"r-recent", "r-in-grace", "r-open"} {
		if f.purged(id) || len(f.purgeEvents(id)) != 0 {
			t.Errorf("%s: purged, want it kept", id)
		}
	}
	if !objectExists(t, s3c, "attachments/r-recent/1.pdf") {
		t.Error("a recent request's document was deleted")
	}
	if got := f.purgeEvents("r-workflow-purged"); len(got) != 0 {
		t.Errorf("r-workflow-purged: the sweep audited it again: %v", got)
	}
	// What proves the request was handled stays.
	r, err := f.st.GetRequest(f.ctx, "r-due")
	if err != nil || r.Status != dsr.StatusRefused || r.PersonalPurgedAt == nil || !r.PersonalPurgedAt.Equal(t0) {
		t.Errorf("r-due after the sweep = %+v, %v; want refused, purged at t0", r, err)
	}
	if rep, err := f.st.VerifyChain(f.ctx, "r-due"); err != nil || !rep.OK() {
		t.Errorf("r-due's audit chain after the sweep: %+v, %v", rep, err)
	}
	if strings.Contains(f.logs.String(), "person@example.com") {
		t.Error("logs hold a document key naming the person")
	}

	// The next pass, and one after the grace of r-in-grace, purge once each.
	if rep := f.run(); len(rep.Purged) != 0 {
		t.Errorf("second pass purged %v, want nothing", rep.Purged)
	}
	f.clock.Set(t0.Add(31 * time.Minute))
	rep = f.run()
	if got, want := rep.Purged, []string{"r-in-grace"}; !slices.Equal(got, want) {
		t.Errorf("after the grace: Purged = %v, want %v", got, want)
	}
	if got := f.purgeEvents("r-due"); len(got) != 1 {
		t.Errorf("r-due audited %d times, want once", len(got))
	}
	// The pass drove the one-time backfill of the purge index to its end.
	if b, err := f.st.BackfillPurgeIndex(f.ctx, 10); err != nil || !b.Done || b.Scanned != 0 {
		t.Errorf("backfill after a pass = %+v, %v; want done", b, err)
	}
}

// TestPurgeSweepWithoutDocumentStorage: with no document storage wired, a
// request with documents is kept and reported (its document items are the
// only record of the objects); one without is purged.
func TestPurgeSweepWithoutDocumentStorage(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		f := newFixture(t, map[string]string{"RECONCILE_QUIET_REPEATS": strconv.FormatBool(quiet)}, nil)
		f.closed("r-docs", t0.Add(-40*day), nil, "attachments/r-docs/1.pdf")
		f.closed("r-nodocs", t0.Add(-40*day), nil)
		for pass := range 2 {
			rep := f.run()
			if got, want := rep.PurgeBlocked, []string{"r-docs"}; !slices.Equal(got, want) {
				t.Errorf("quiet=%v pass %d: PurgeBlocked = %v, want %v", quiet, pass, got, want)
			}
			if m := f.metrics(); m[MetricPersonalDataPurgeBlocked] != 1 {
				t.Errorf("quiet=%v pass %d: PersonalDataPurgeBlocked = %v, want 1", quiet, pass, m[MetricPersonalDataPurgeBlocked])
			}
		}
		if f.purged("r-docs") || len(f.purgeEvents("r-docs")) != 0 {
			t.Errorf("quiet=%v: r-docs purged without deleting its documents", quiet)
		}
		if !f.purged("r-nodocs") {
			t.Errorf("quiet=%v: r-nodocs not purged", quiet)
		}
		want := 2
		if quiet {
			want = 1
		}
		if got := strings.Count(f.logs.String(), `"msg":"personal data due for purge kept`); got != want {
			t.Errorf("quiet=%v: %d blocked warnings in 2 passes, want %d", quiet, got, want)
		}
	}
}

// TestPurgeSweepIsBounded: a pass purges at most RECONCILE_PURGE_LIMIT
// requests, oldest closed first; the next passes continue.
func TestPurgeSweepIsBounded(t *testing.T) {
	f := newFixture(t, map[string]string{"RECONCILE_PURGE_LIMIT": "2"}, nil)
	ids := []string{"r-1", "r-2", "r-3", "r-4", "r-5"}
	for i, id := range ids {
		f.closed(id, t0.Add(-time.Duration(60-i)*day), nil)
	}
	// Blocked requests, closed first, do not use up the limit.
	f.closed("r-0-docs", t0.Add(-90*day), nil, "attachments/r-0-docs/1.pdf")
	var got []string
	for pass, want := range [][]string{{"r-1", "r-2"}, {"r-3", "r-4"}, {"r-5"}} {
		rep := f.run()
		if !slices.Equal(rep.Purged, want) {
			t.Errorf("pass %d: Purged = %v, want %v", pass, rep.Purged, want)
		}
		if backlog := pass < 2; rep.PurgeBacklog != backlog {
			t.Errorf("pass %d: PurgeBacklog = %v, want %v", pass, rep.PurgeBacklog, backlog)
		}
		got = append(got, rep.Purged...)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("purged %v, want %v", got, ids)
	}
}

// TestPurgeSweepDocumentFailure: a document that cannot be deleted keeps
// the request's personal data and audit trail as they were; the error
// names the request, the document's number and the error code, never the
// key.
func TestPurgeSweepDocumentFailure(t *testing.T) {
	s3c := fakeS3(t)
	f := newFixture(t, nil, func(d *Deps) { d.Documents = documents.New(s3c) })
	f.closed("r-bad", t0.Add(-40*day), nil)
	// A document in a bucket that does not exist.
	if _, err := f.st.AddDocument(f.ctx, "r-bad", store.Document{Bucket: "gone", Key: "attachments/r-bad/person@example.com.pdf", Source: "mail"}); err != nil {
		t.Fatal(err)
	}
	f.closed("r-good", t0.Add(-35*day), nil)
	f.emf.Reset()
	rep, err := f.rec.Run(f.ctx)
	if err == nil {
		t.Fatal("Run: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "r-bad") || !strings.Contains(msg, "document 1") || !strings.Contains(msg, "NoSuchBucket") {
		t.Errorf("error = %q, want it to name r-bad, document 1 and NoSuchBucket", msg)
	}
	if strings.Contains(msg, "person@example.com") || strings.Contains(f.logs.String(), "person@example.com") {
		t.Errorf("the error or the logs name the document's key: %q", msg)
	}
	if got, want := rep.Purged, []string{"r-good"}; !slices.Equal(got, want) {
		t.Errorf("Purged = %v, want %v (the failure stops only its request)", got, want)
	}
	if rep.Errors != 1 {
		t.Errorf("Errors = %d, want 1", rep.Errors)
	}
	if m := f.metrics(); m[MetricReconcileErrors] != 1 {
		t.Errorf("ReconcileErrors = %v, want 1", m[MetricReconcileErrors])
	}
	if f.purged("r-bad") || len(f.purgeEvents("r-bad")) != 0 {
		t.Error("r-bad purged or audited although its document is still there")
	}
}

// BenchmarkSweep measures a pass that purges 10 requests, each with one
// document in S3 (gofakes3): per request, a document query, a delete, the
// audit event and the purge's deletes and update.
func BenchmarkSweep(b *testing.B) {
	s3c := fakeS3(b)
	f := newFixture(b, map[string]string{"RECONCILE_PURGE_LIMIT": "10"}, func(d *Deps) { d.Documents = documents.New(s3c) })
	n := 0
	for b.Loop() {
		b.StopTimer()
		for range 10 {
			n++
			id := "r-" + strconv.Itoa(n)
			f.closed(id, t0.Add(-40*day), s3c, "attachments/"+id+"/1.pdf")
		}
		b.StartTimer()
		rep, err := f.rec.Run(f.ctx)
		if err != nil || len(rep.Purged) != 10 {
			b.Fatalf("Run = %d purged, %v; want 10", len(rep.Purged), err)
		}
	}
}
