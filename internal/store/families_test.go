package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// TestTTLIsANumber: every item that should disappear carries expiresAt as a
// DynamoDB Number of epoch seconds. dynalite ignores TTL, so the marshalled
// type is what the test can check; a string would never expire in AWS.
func TestTTLIsANumber(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1", "kA"))
	if err := f.st.PutVerification(ctx, "r1", &Verification{State: "pending", CodeExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.PutMailRecord(ctx, MailRecord{DedupeKey: "d1", Action: "ignore", Reason: "ignore: bounce", Object: "s3://b/k", ReceivedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AddDocument(ctx, "r1", Document{Bucket: "b", Key: "k1", ContentType: "application/pdf", Source: "mail"}); err != nil {
		t.Fatal(err)
	}
	closeAt := t0.Add(30 * 24 * time.Hour)
	if err := f.st.ExpirePersonal(ctx, "r1", closeAt); err != nil {
		t.Fatal(err)
	}
	ackAt := f.clock.t.Add(time.Second) // the claim's clock reading
	if ok, err := f.st.ClaimMailAck(ctx, "sk1", 24*time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := f.st.UpdateIdentity(ctx, "r1", func(id *dsr.Identity) error { id.Resolution = dsr.ResolutionNoAccount; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ExpirePersonal(ctx, "r1", closeAt); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pk, sk string
		want   int64
	}{
		{"verification", "REQ#r1", "VERIFY", t0.Add(2 * time.Second).Add(VerificationTTL).Unix()}, // created at the second clock reading
		{"mail record", "MAIL#d1", "MAIL", t0.Add(MailRecordTTL).Unix()},
		{"personal", "REQ#r1", "PERSONAL", closeAt.Unix()},
		{"identity", "REQ#r1", "IDENTITY", closeAt.Unix()},
		{"document", "REQ#r1", "DOC#0001", closeAt.Unix()},
		{"mail ack marker", "MAILACK#sk1", "MAILACK", ackAt.Add(24 * time.Hour).Unix()},
	}
	for _, tt := range tests {
		item := f.rawItem(t, tt.pk, tt.sk)
		n, ok := item["expiresAt"].(*types.AttributeValueMemberN)
		if !ok {
			t.Errorf("%s: expiresAt is %T, want a Number", tt.name, item["expiresAt"])
			continue
		}
		if want := formatInt(tt.want); n.Value != want {
			t.Errorf("%s: expiresAt = %s, want %s", tt.name, n.Value, want)
		}
	}
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestPersonalLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := newRequest("r1")
	p := &dsr.Personal{Contact: dsr.Contact{Email: "a@example.cn"}, Subject: dsr.Identifiers{Accounts: []string{"10000001"}}, Details: "d"}
	if _, _, err := f.st.CreateRequest(ctx, r, p); err != nil {
		t.Fatal(err)
	}
	// The request item holds none of it.
	raw := f.rawItem(t, "REQ#r1", "REQUEST")
	for _, attr := range []string{"contact", "subject", "details", "email"} {
		if _, ok := raw[attr]; ok {
			t.Errorf("request item has %q", attr)
		}
	}
	got, err := f.st.GetPersonal(ctx, "r1")
	if err != nil || got.Contact.Email != "a@example.cn" || got.Details != "d" {
		t.Fatalf("GetPersonal = %+v, %v", got, err)
	}
	// A repeated create does not overwrite amended data.
	if _, err := f.st.UpdatePersonal(ctx, "r1", func(p *dsr.Personal) { p.Subject.Add(dsr.IdentifierPhone, "+8613800138001") }); err != nil {
		t.Fatal(err)
	}
	if _, dup, err := f.st.CreateRequest(ctx, newRequest("r1"), &dsr.Personal{Details: "other"}); err != nil || !dup {
		t.Fatalf("repeat create: dup %v err %v", dup, err)
	}
	got, _ = f.st.GetPersonal(ctx, "r1")
	if got.Details != "d" || len(got.Subject.Phones) != 1 {
		t.Errorf("after repeat create: %+v", got)
	}
	if _, err := f.st.AddDocument(ctx, "r1", Document{Bucket: "b", Key: "k", ContentType: "image/png", Source: "upload"}); err != nil {
		t.Fatal(err)
	}
	if d, err := f.st.AddDocument(ctx, "r1", Document{Bucket: "b", Key: "k"}); err != nil || d.Seq != 1 {
		t.Errorf("same object again = %+v, %v; want the first record", d, err)
	}
	if req, _ := f.st.GetRequest(ctx, "r1"); req.Documents != 1 {
		t.Errorf("documents = %d, want 1", req.Documents)
	}
	purged, err := f.st.PurgePersonal(ctx, "r1")
	if err != nil || purged.PersonalPurgedAt == nil {
		t.Fatalf("PurgePersonal = %+v, %v", purged, err)
	}
	for _, sk := range []string{"PERSONAL", "IDENTITY", "DOC#0001"} {
		if item := f.rawItem(t, "REQ#r1", sk); item != nil {
			t.Errorf("%s still stored after purge", sk)
		}
	}
	if _, err := f.st.GetPersonal(ctx, "r1"); !errors.Is(err, ErrPurged) {
		t.Errorf("GetPersonal after purge: %v, want ErrPurged", err)
	}
	if _, err := f.st.UpdatePersonal(ctx, "r1", func(*dsr.Personal) {}); !errors.Is(err, ErrPurged) {
		t.Errorf("UpdatePersonal after purge: %v, want ErrPurged", err)
	}
	again, err := f.st.PurgePersonal(ctx, "r1")
	if err != nil || !again.PersonalPurgedAt.Equal(*purged.PersonalPurgedAt) {
		t.Errorf("second purge = %v, %v; want the first date", again.PersonalPurgedAt, err)
	}
}

func TestSubjectAndHintKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := newRequest("r1")
	r.HintKeys = []string{"typed"}
	f.create(t, r)
	// A typed key links nothing a decision uses.
	if got, err := f.st.FindBySubject(ctx, "typed"); err != nil || len(got) != 0 {
		t.Errorf("FindBySubject(typed) = %v, %v; want none", got, err)
	}
	if got, err := f.st.FindByHint(ctx, "typed"); err != nil || len(got) != 1 {
		t.Errorf("FindByHint(typed) = %v, %v; want r1", got, err)
	}
	if _, err := f.st.AddSubjectKeys(ctx, "r1", []string{"verified", "verified"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.FindBySubject(ctx, "verified")
	if err != nil || len(got) != 1 || !slices.Equal(got[0].SubjectKeys, []string{"verified"}) {
		t.Errorf("FindBySubject(verified) = %+v, %v", got, err)
	}
	// Found by hint too: operators search both.
	if got, err := f.st.FindByHint(ctx, "verified"); err != nil || len(got) != 1 {
		t.Errorf("FindByHint(verified) = %v, %v", got, err)
	}
	// Subject keys only grow, through AddSubjectKeys.
	req, _ := f.st.GetRequest(ctx, "r1")
	if _, err := f.st.UpdateRequest(ctx, "r1", req.Version, func(x *dsr.Request) { x.SubjectKeys = nil }); !errors.Is(err, ErrImmutable) {
		t.Errorf("dropping subject keys: %v, want ErrImmutable", err)
	}
}

func TestListOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	due := t0.Add(48 * time.Hour)
	a := newRequest("a")
	a.DueAt = &due
	f.create(t, a)
	f.create(t, newRequest("b")) // no due date yet
	c := newRequest("c")
	c.Status = dsr.StatusCompleted
	f.create(t, c)
	got, err := f.st.ListOpen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("ListOpen = %v, want [a b] (dated first, undated last, closed left out)", ids)
	}
	// Undated requests are not "due before" anything.
	page, err := f.st.ListOpenByDue(ctx, t0.Add(1000*time.Hour), 10, "")
	if err != nil || len(page.Requests) != 1 || page.Requests[0].ID != "a" {
		t.Errorf("ListOpenByDue = %+v, %v; want [a]", page.Requests, err)
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i, k := range []string{"k2", "k1"} {
		if err := f.st.PutHold(ctx, Hold{SubjectKey: k, Action: "refuse", Reason: "legal_hold", CreatedAt: t0.Add(time.Duration(i) * time.Hour), CreatedBy: "op"}); err != nil {
			t.Fatal(err)
		}
	}
	holds, err := f.st.ListHolds(ctx)
	if err != nil || len(holds) != 2 || holds[0].SubjectKey != "k2" {
		t.Fatalf("ListHolds = %+v, %v", holds, err)
	}
	if h, err := f.st.GetHold(ctx, "k1"); err != nil || h == nil {
		t.Errorf("GetHold = %v, %v", h, err)
	}
	if h, err := f.st.DeleteHold(ctx, "k1"); err != nil || h == nil || h.SubjectKey != "k1" {
		t.Errorf("DeleteHold = %+v, %v", h, err)
	}
	if h, err := f.st.DeleteHold(ctx, "k1"); err != nil || h != nil {
		t.Errorf("DeleteHold again = %+v, %v; want nil", h, err)
	}
	if holds, _ := f.st.ListHolds(ctx); len(holds) != 1 {
		t.Errorf("after delete: %d holds", len(holds))
	}
}

func TestMailTriage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	rec := MailRecord{DedupeKey: "d1", Action: "triage", Reason: "triage: unclear", Object: "s3://b/1", ReceivedAt: t0}
	if dup, err := f.st.PutMailRecord(ctx, rec); err != nil || dup {
		t.Fatal(dup, err)
	}
	rec.Object = "s3://b/2"
	if dup, err := f.st.PutMailRecord(ctx, rec); err != nil || !dup {
		t.Fatal(dup, err)
	}
	list, err := f.st.ListTriage(ctx)
	if err != nil || len(list) != 1 || list[0].Deliveries != 2 || len(list[0].Objects) != 2 {
		t.Fatalf("ListTriage = %+v, %v", list, err)
	}
	if item := f.rawItem(t, "MAIL#d1", "MAIL"); item["expiresAt"] != nil {
		t.Errorf("a mail waiting for a person has a TTL")
	}
	if _, err := f.st.ResolveMail(ctx, "d1", "ignored", "not_a_request", "", "operator:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.ResolveMail(ctx, "d1", "ignored", "not_a_request", "", "operator:x"); !errors.Is(err, ErrResolved) {
		t.Errorf("second resolve: %v, want ErrResolved", err)
	}
	if list, _ := f.st.ListTriage(ctx); len(list) != 0 {
		t.Errorf("resolved mail still listed: %+v", list)
	}
	if _, ok := f.rawItem(t, "MAIL#d1", "MAIL")["expiresAt"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("resolved mail has no TTL")
	}
}

// TestClaimMailAck: one acknowledgement per sender key and window, however
// many claims race for it; a new window opens when the last claim is window
// old; keys are independent.
func TestClaimMailAck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const window = time.Hour

	// Concurrent claims for one key: exactly one wins.
	var wg sync.WaitGroup
	var won atomic.Int32
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := f.st.ClaimMailAck(ctx, "k1", window)
			if err != nil {
				errs <- err
			}
			if ok {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ClaimMailAck: %v", err)
	}
	if n := won.Load(); n != 1 {
		t.Fatalf("concurrent claims won = %d, want 1", n)
	}

	steps := []struct {
		name    string
		advance time.Duration // before the claim (the clock also ticks 1 s per reading)
		key     string
		want    bool
	}{
		{"same key within the window", 10 * time.Minute, "k1", false},
		{"another key", 0, "k2", true},
		{"same key just before the window ends", 40 * time.Minute, "k1", false},
		{"same key once the window has passed", 10 * time.Minute, "k1", true},
		{"right after the new claim", 0, "k1", false},
		{"the other key, claimed 50 minutes ago", 0, "k2", false},
	}
	for _, s := range steps {
		f.clock.mu.Lock()
		f.clock.t = f.clock.t.Add(s.advance)
		f.clock.mu.Unlock()
		got, err := f.st.ClaimMailAck(ctx, s.key, window)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: claimed = %v, want %v", s.name, got, s.want)
		}
	}
	if _, err := f.st.ClaimMailAck(ctx, "", window); err == nil {
		t.Error("empty sender key: no error")
	}
	if _, err := f.st.ClaimMailAck(ctx, "k3", 0); err == nil {
		t.Error("zero window: no error")
	}
}

func TestVersionedItems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1"))
	v := &Verification{State: "pending"}
	if err := f.st.PutVerification(ctx, "r1", v); err != nil || v.Version != 1 {
		t.Fatal(v.Version, err)
	}
	stale := *v
	v.Attempts = 1
	if err := f.st.PutVerification(ctx, "r1", v); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutVerification(ctx, "r1", &stale); !errors.Is(err, ErrStale) {
		t.Errorf("stale verification write: %v, want ErrStale", err)
	}
	w := &OperatorWait{RequestID: "r1", Stage: "review", Cause: "repeat_limit", TaskToken: "t"}
	if err := f.st.PutOperatorWait(ctx, w); err != nil {
		t.Fatal(err)
	}
	if got, err := f.st.GetOperatorWait(ctx, "r1", "review"); err != nil || got.Cause != "repeat_limit" {
		t.Errorf("GetOperatorWait = %+v, %v", got, err)
	}
	if err := f.st.PutOperatorWait(ctx, &OperatorWait{RequestID: "r1", Stage: "review"}); !errors.Is(err, ErrStale) {
		t.Errorf("second new wait: %v, want ErrStale", err)
	}
	if err := f.st.PutNotice(ctx, "r1", Notice{Template: "reply", State: NoticeSent, Channel: "email"}); err != nil {
		t.Fatal(err)
	}
	if ns, err := f.st.ListNotices(ctx, "r1"); err != nil || len(ns) != 1 || ns[0].Template != "reply" {
		t.Errorf("ListNotices = %+v, %v", ns, err)
	}
	if created, err := f.st.PutCertificate(ctx, "r1", []byte(`{"a":1}`), "d"); err != nil || !created {
		t.Fatal(created, err)
	}
	if created, _ := f.st.PutCertificate(ctx, "r1", []byte(`{"a":2}`), "e"); created {
		t.Errorf("a second certificate replaced the first")
	}
	if doc, err := f.st.GetCertificate(ctx, "r2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCertificate(r2) = %s, %v", doc, err)
	}
	if err := f.st.PutTaskToken(ctx, "r1", "backups", "tok"); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.st.TaskToken(ctx, "r1", "backups"); err != nil || tok != "tok" {
		t.Errorf("TaskToken = %q, %v", tok, err)
	}
}

func TestAddHintKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := newRequest("r1")
	r.HintKeys = []string{"typed"}
	f.create(t, r)
	got, err := f.st.AddHintKeys(ctx, "r1", []string{"typed", "amended", "amended"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"typed", "amended"}; !slices.Equal(got.HintKeys, want) {
		t.Errorf("hint keys = %v, want %v", got.HintKeys, want)
	}
	if found, err := f.st.FindByHint(ctx, "amended"); err != nil || len(found) != 1 || found[0].ID != "r1" {
		t.Errorf("FindByHint(amended) = %v, %v; want r1", found, err)
	}
	// A hint is never proof.
	if found, err := f.st.FindBySubject(ctx, "amended"); err != nil || len(found) != 0 {
		t.Errorf("FindBySubject(amended) = %v, %v; want none", found, err)
	}
	if _, err := f.st.AddHintKeys(ctx, "r1", []string{""}); err == nil {
		t.Error("an empty hint key was accepted")
	}
	if _, err := f.st.AddHintKeys(ctx, "nope", []string{"k"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddHintKeys(missing) = %v, want ErrNotFound", err)
	}
	// Only AddHintKeys changes them.
	req, _ := f.st.GetRequest(ctx, "r1")
	if _, err := f.st.UpdateRequest(ctx, "r1", req.Version, func(x *dsr.Request) { x.HintKeys = nil }); !errors.Is(err, ErrImmutable) {
		t.Errorf("dropping hint keys: %v, want ErrImmutable", err)
	}
}

func TestListOperatorWaits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, newRequest("r1"))
	f.create(t, newRequest("r2"))
	if ws, err := f.st.ListOperatorWaits(ctx, "r1"); err != nil || len(ws) != 0 {
		t.Fatalf("no waits yet: %v, %v", ws, err)
	}
	for _, w := range []*OperatorWait{
		{RequestID: "r1", Stage: "verification", Cause: "role_guardian", TaskToken: "t1"},
		{RequestID: "r1", Stage: "identity", Cause: "identity_mismatch", TaskToken: "t2"},
		{RequestID: "r2", Stage: "review", Cause: "repeat_limit", TaskToken: "t3"},
	} {
		if err := f.st.PutOperatorWait(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := f.st.ListOperatorWaits(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Stage+":"+w.Cause)
	}
	if want := []string{"identity:identity_mismatch", "verification:role_guardian"}; !slices.Equal(got, want) {
		t.Errorf("waits of r1 = %v, want %v", got, want)
	}
}
