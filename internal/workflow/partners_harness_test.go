package workflow

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/partner/partnertest"
	"dsrflow/internal/store"
)

// simSpec describes one simulated partner of a fleet.
type simSpec struct {
	id       string
	mode     partner.Mode
	actions  []partner.Action
	purposes []string
	b        partnersim.Behavior
	// retention is the configured backup retention (default 30 days).
	retention  time.Duration
	exceptions []partner.RetentionException
}

// fleet is a set of simulated partners on httptest, their configuration,
// the callback endpoint in front of partner.Callback, and export storage
// on an in-memory S3 (gofakes3).
type fleet struct {
	cfg  *partner.Config
	sims map[string]*partnersim.Partner
}

const exportBucket = "dsr-exports"

var (
	emailAndPhone = []dsr.IdentifierType{dsr.IdentifierEmail, dsr.IdentifierPhone}
	allActions    = partner.Actions()
)

// newPartnerEnv is the whole workflow with partners: the account system is
// the first spec, if it supports close_account.
func newPartnerEnv(t *testing.T, policy func(*Policy), wrap func(string, lambda.Handler) lambda.Handler, specs ...simSpec) (*env, *fleet) {
	t.Helper()
	f := &fleet{cfg: &partner.Config{}, sims: map[string]*partnersim.Partner{}}
	secrets := map[string]string{}
	for _, s := range specs {
		sec := "secret-of-" + s.id + "-0123456789abcdef"
		name := "PARTNER_" + strings.ToUpper(strings.ReplaceAll(s.id, "-", "_")) + "_SECRET"
		secrets[name] = sec
		s.b.Mode = s.mode
		if s.b.BackupRetention == 0 {
			s.b.BackupRetention = 30 * 24 * time.Hour
		}
		sim := partnersim.New(s.id, []byte(sec), s.b)
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		t.Cleanup(sim.Wait)
		f.sims[s.id] = sim
		ret := s.retention
		if ret == 0 {
			ret = 30 * 24 * time.Hour
		}
		actions := s.actions
		if actions == nil {
			actions = []partner.Action{partner.ActionErase, partner.ActionExport, partner.ActionCorrect}
		}
		f.cfg.Partners = append(f.cfg.Partners, partner.Partner{
			ID: s.id, Name: dsr.Text{ZhCN: "合作方" + s.id, En: "Partner " + s.id}, Endpoint: srv.URL, Actions: actions,
			IdentityTypes: emailAndPhone, Purposes: s.purposes, Mode: s.mode, CompletionDeadline: partner.Duration(time.Hour),
			SecretRef: "env:" + name, BackupRetention: partner.Duration(ret), RetentionExceptions: s.exceptions,
		})
	}
	if len(specs) > 0 && f.cfg.Partners[0].Supports(partner.ActionCloseAccount) {
		f.cfg.AccountSystem = specs[0].id
	}
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s3c := fakeS3(t)
	var cb *partner.Callback
	cbSrv := partnertest.CallbackServer(t, func() *partner.Callback { return cb })
	setup := func(h *Handlers) {
		sec := partner.NewSecrets(nil)
		sec.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }}
		h.Exports = &export.Store{Objects: &exportGuard{t: t, next: s3bucket.New(s3c, exportBucket)}, SSE: export.SSES3, LinkTTL: 72 * time.Hour}
		h.Partners = &partner.Dispatcher{
			Store: h.Store, Config: f.cfg, Secrets: sec, Client: &partner.Client{TryTimeout: 2 * time.Second},
			Exports: h.Exports, CallbackBaseURL: cbSrv.URL, Now: h.now, Log: h.Logger,
		}
		h.Assembler = &export.Assembler{Store: h.Store, Exports: h.Exports, Names: h.partnerName, Page: exportpage.Render, Now: h.now}
		cb = &partner.Callback{D: h.Partners}
		for _, sim := range f.sims {
			sim.Now = h.Now
		}
	}
	e := newEnvWith(t, "aws", policy, setup, wrap)
	return e, f
}

func fakeS3(t *testing.T) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), UsePathStyle: true,
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(exportBucket)}); err != nil {
		t.Fatal(err)
	}
	return c
}

// tasks returns the request's partner tasks by partner ID.
func (e *env) tasks(id string) map[string]store.PartnerTask {
	e.t.Helper()
	ts, err := e.st.ListPartnerTasks(e.ctx, id)
	if err != nil {
		e.t.Fatalf("ListPartnerTasks(%s): %v", id, err)
	}
	out := map[string]store.PartnerTask{}
	for _, t := range ts {
		out[t.PartnerID] = t
	}
	return out
}

// calls counts the requests the fleet's partners received for request id.
func (f *fleet) calls(id string) map[string]int {
	out := map[string]int{}
	for pid, sim := range f.sims {
		for _, r := range sim.Received() {
			if r.SubjectRequestID == id {
				out[pid]++
			}
		}
	}
	return out
}
