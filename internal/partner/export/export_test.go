package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

const bucket = "exports"

// sseRecorder notes the encryption header of every PUT reaching S3.
type sseRecorder struct {
	mu   sync.Mutex
	puts map[string]string // key → x-amz-server-side-encryption
	kms  map[string]string
}

func fakeS3(t *testing.T) (*s3.Client, *sseRecorder) {
	t.Helper()
	rec := &sseRecorder{puts: map[string]string{}, kms: map[string]string{}}
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			rec.mu.Lock()
			k := strings.TrimPrefix(r.URL.Path, "/"+bucket+"/")
			rec.puts[k] = r.Header.Get("X-Amz-Server-Side-Encryption")
			rec.kms[k] = r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
			rec.mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), UsePathStyle: true,
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestPackageRoundTrip(t *testing.T) {
	ctx := t.Context()
	c, rec := fakeS3(t)
	ex := &export.Store{Objects: s3bucket.New(c, bucket), SSE: export.SSEKMS, KMSKeyID: "alias/dsr-exports"}
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client()})
	req := &dsr.Request{ID: "req-access-1", Kind: dsr.KindAccess, Status: dsr.StatusInProgress, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en"}
	if _, _, err := st.CreateRequest(ctx, req, &dsr.Personal{Contact: dsr.Contact{Email: "person@example.com"}}); err != nil {
		t.Fatal(err)
	}
	exports := map[string]string{
		"music-account": `{"nickname":"<script>alert(1)</script>","songs":[{"title":"晴天"}],"vip":true}`,
		"analytics":     `{"events":42}`,
	}
	for id, data := range exports {
		key, err := ex.PutPartnerExport(ctx, req.ID, id, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: id, Action: "export", Status: store.PartnerCompleted, Receipt: "R-" + id, ExportKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: "cloud-storage", Action: "export", Status: store.PartnerSettledByOperator, OperatorReason: "partner_terminated"}); err != nil {
		t.Fatal(err)
	}
	// A partner holding no data for this person is neither a part nor
	// missing.
	if _, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: "sms-provider", Action: "export", Status: store.PartnerNoData}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	a := &export.Assembler{Store: st, Exports: ex, Page: exportpage.Render, Now: func() time.Time { return at },
		Names: func(id string, l dsr.Locale) string { return map[string]string{"music-account": "Music account"}[id] }}
	out, err := a.Handle(ctx, export.Input{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if out != (export.Output{Key: export.PackageKey(req.ID), Partners: 2, Missing: 1}) {
		t.Errorf("output = %+v", out)
	}

	// Every object was written encrypted with the configured key.
	for _, k := range []string{export.PartnerKey(req.ID, "analytics"), export.PartnerKey(req.ID, "music-account"), export.PackageKey(req.ID)} {
		if rec.puts[k] != "aws:kms" || rec.kms[k] != "alias/dsr-exports" {
			t.Errorf("PUT %s: SSE %q key %q, want aws:kms alias/dsr-exports", k, rec.puts[k], rec.kms[k])
		}
	}

	// The link fetches the package.
	link, expires, err := ex.Link(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	if got := u.Query().Get("X-Amz-Expires"); got != "259200" {
		t.Errorf("X-Amz-Expires = %q, want 259200 (72h)", got)
	}
	if d := time.Until(expires); d < 71*time.Hour || d > 73*time.Hour {
		t.Errorf("expires in %v, want about 72h", d)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET link: %d", resp.StatusCode)
	}
	files := unzip(t, zipped)

	var pkg struct {
		RequestID string `json:"requestId"`
		Partners  []struct {
			PartnerID string          `json:"partnerId"`
			Receipt   string          `json:"receipt"`
			Data      json.RawMessage `json:"data"`
		} `json:"partners"`
		Missing []struct {
			PartnerID string `json:"partnerId"`
			Status    string `json:"status"`
		} `json:"missing"`
	}
	if err := json.Unmarshal(files["export.json"], &pkg); err != nil {
		t.Fatalf("export.json: %v", err)
	}
	if pkg.RequestID != req.ID || len(pkg.Partners) != 2 || len(pkg.Missing) != 1 || pkg.Missing[0].PartnerID != "cloud-storage" {
		t.Errorf("export.json = %s", files["export.json"])
	}
	for _, p := range pkg.Partners {
		if !sameJSON(t, p.Data, []byte(exports[p.PartnerID])) || p.Receipt != "R-"+p.PartnerID {
			t.Errorf("partner %s data %s receipt %s, want %s", p.PartnerID, p.Data, p.Receipt, exports[p.PartnerID])
		}
	}
	page := string(files["export.html"])
	for _, want := range []string{`<html lang="en">`, "A copy of your personal information", "Music account", "songs[0].title", "晴天", "&lt;script&gt;alert(1)&lt;/script&gt;", "cloud-storage (settled_by_operator)"} {
		if !strings.Contains(page, want) {
			t.Errorf("export.html lacks %q", want)
		}
	}
	if strings.Contains(page, "sms-provider") || strings.Contains(string(files["export.json"]), "sms-provider") {
		t.Errorf("a partner without data for this person is listed in the package")
	}
	if strings.Contains(page, "<script>alert") {
		t.Errorf("export.html carries unescaped partner data")
	}
}

func TestLinkTTL(t *testing.T) {
	c, _ := fakeS3(t)
	for _, tt := range []struct {
		ttl  time.Duration
		want string
	}{{time.Hour, "3600"}, {30 * 24 * time.Hour, "604800"}} {
		ex := &export.Store{Objects: s3bucket.New(c, bucket), LinkTTL: tt.ttl}
		link, _, err := ex.Link(t.Context(), "r1")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(link)
		if got := u.Query().Get("X-Amz-Expires"); got != tt.want {
			t.Errorf("LinkTTL %v: X-Amz-Expires = %s, want %s", tt.ttl, got, tt.want)
		}
	}
}

func TestEncryptionSettings(t *testing.T) {
	c, rec := fakeS3(t)
	ex := &export.Store{Objects: s3bucket.New(c, bucket), SSE: export.SSES3}
	if _, err := ex.PutPartnerExport(t.Context(), "r1", "p", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := rec.puts[export.PartnerKey("r1", "p")]; got != "AES256" {
		t.Errorf("SSE-S3 PUT header %q, want AES256", got)
	}
	ex.SSE = "rot13"
	if _, err := ex.PutPartnerExport(t.Context(), "r1", "q", []byte(`{}`)); err == nil {
		t.Errorf("unknown SSE accepted")
	}
	ex.SSE = ""
	if _, err := ex.PutPartnerExport(t.Context(), "r1", "q", []byte(`not json`)); !errors.Is(err, export.ErrNotJSON) {
		t.Errorf("non-JSON export: %v, want ErrNotJSON", err)
	}
}

func TestRenderChineseByDefault(t *testing.T) {
	_, h, err := export.Render(export.Package{RequestID: "r1", Locale: "fr", Partners: []export.Part{{PartnerID: "p", Name: "数据统计服务", Data: json.RawMessage(`null`)}}}, exportpage.Render)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), `lang="zh-CN"`) || !strings.Contains(string(h), "您的个人信息副本") {
		t.Errorf("unsupported locale did not fall back to zh-CN:\n%s", h)
	}
}

// A package is never published without its page: a function built without
// the renderer fails instead of storing an export.json alone.
func TestRenderNeedsAPage(t *testing.T) {
	_, _, err := export.Render(export.Package{RequestID: "r1", Locale: "en"}, nil)
	if err == nil || !strings.Contains(err.Error(), "exportpage.Render") {
		t.Fatalf("Render without a page renderer: %v", err)
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("package is not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
