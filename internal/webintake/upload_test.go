package webintake

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/s3post"
	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/logtest"
	"dsrflow/internal/store"
)

const uploadBucket = "mailbox"

var (
	testPDF  = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	testJPEG = []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01}
)

// uploadEnv is a handler with uploads into the local S3 emulator (gofakes3
// behind s3post, as the local stack serves it).
type uploadEnv struct {
	*testEnv
	s3    *s3.Client
	s3URL string
}

// newUploadEnv builds the handler with uploads configured; edit may change
// the configuration first.
func newUploadEnv(t testing.TB, edit ...func(*Config)) *uploadEnv {
	t.Helper()
	faker := gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0), gofakes3.WithoutVersioning(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(s3post.Wrap(faker.Server(), s3post.Options{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret", Region: "cn-north-1"}))
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")})
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(uploadBucket)}); err != nil {
		t.Fatal(err)
	}

	table := emu.NewTable(t)
	clock := asl.VirtualClock(testStart).(*asl.Virtual)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	fake := intaketest.NewSFN(t)
	logs := &logtest.Buffer{}
	cfg := testConfig(table, intaketest.StateMachineArn, 3)
	cfg.OutboxDir = filepath.Join(t.TempDir(), "outbox")
	cfg.UploadBucket, cfg.UploadPrefix, cfg.UploadSSE, cfg.UploadFormTTL = uploadBucket, "uploads/", documents.SSES3, time.Hour
	for _, e := range edit {
		e(&cfg)
	}
	h, err := New(cfg, Deps{
		Store: st, SFN: fake.Client(), S3: client, Clock: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &uploadEnv{testEnv: &testEnv{h: h, store: st, sfn: fake, clock: clock, logs: logs}, s3: client, s3URL: srv.URL}
}

// guardianForm is the sample form as a guardian sends it for a child.
func (e *uploadEnv) guardianForm(t testing.TB) url.Values {
	vals := e.sampleForm(t)
	vals.Set("role", "guardian")
	vals.Set("email", "parent@example.com")
	vals.Set("subjectName", "张小明")
	return vals
}

// pageForm is one upload form of a page.
type pageForm struct {
	action string
	fields []documents.Field
}

var (
	uploadFormRE = regexp.MustCompile(`(?s)<form class="upload" method="post" action="([^"]+)" enctype="multipart/form-data">(.*?)</form>`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	fileInputRE  = regexp.MustCompile(`<input type="file" id="f-file-(\w+)" name="file" accept="([^"]+)" required`)
)

// uploadForms reads a page's upload forms by file type ("pdf", "jpeg",
// "png").
func uploadForms(t testing.TB, page string) map[string]pageForm {
	t.Helper()
	out := map[string]pageForm{}
	for _, m := range uploadFormRE.FindAllStringSubmatch(page, -1) {
		f := pageForm{action: html.UnescapeString(m[1])}
		for _, h := range hiddenRE.FindAllStringSubmatch(m[2], -1) {
			f.fields = append(f.fields, documents.Field{Name: html.UnescapeString(h[1]), Value: html.UnescapeString(h[2])})
		}
		in := fileInputRE.FindStringSubmatch(m[2])
		if in == nil {
			t.Fatalf("upload form without a file input:\n%s", m[0])
		}
		if strings.Contains(m[2], `<button type="submit" name=`) {
			t.Errorf("the %s form's button has a name: S3 would refuse the field", in[1])
		}
		out[in[1]] = f
	}
	return out
}

// field is the value of form field name ("" when absent).
func (f pageForm) field(name string) string {
	for _, fd := range f.fields {
		if fd.Name == name {
			return fd.Value
		}
	}
	return ""
}

// postFile posts file through f as a browser does and returns S3's
// redirect (the received page's URL), failing on any other answer.
func postFile(t testing.TB, f pageForm, file []byte) string {
	t.Helper()
	resp := postFileResp(t, f, file)
	if resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("S3 answered %d: %s", resp.StatusCode, b)
	}
	return resp.Header.Get("Location")
}

func postFileResp(t testing.TB, f pageForm, file []byte) *http.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, fd := range f.fields {
		mw.WriteField(fd.Name, fd.Value)
	}
	fw, _ := mw.CreateFormFile("file", "证明.pdf")
	fw.Write(file)
	mw.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(f.action, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// get is a GET of link (absolute or a path) through the handler.
func (e *uploadEnv) get(t testing.TB, link string) answer {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, newRequest(http.MethodGet, u.RequestURI(), nil))
}

func (e *uploadEnv) objectExists(t testing.TB, key string) bool {
	t.Helper()
	_, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(uploadBucket), Key: aws.String(key)})
	return err == nil
}

func (e *uploadEnv) events(t testing.TB, id, typ string) []store.Event {
	t.Helper()
	evs, err := e.store.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestUploadFromConfirmation: a guardian's confirmation page carries the
// three upload forms, each presigned for one type, posting straight to the
// bucket (which the page's CSP allows); a PDF posted through the PDF form
// comes back through S3's redirect, is checked, recorded, kept and
// audited, and a reload changes nothing.
func TestUploadFromConfirmation(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	resp := e.do(t, formPost(e.guardianForm(t)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("form post: %d\n%s", resp.StatusCode, resp.Body)
	}
	id := pageRequestID(t, resp.Body)
	for _, w := range []string{text(dsr.LocaleZhCN, "accepted.next.othersUpload"), text(dsr.LocaleZhCN, "upload.what"),
		text(dsr.LocaleZhCN, "upload.limits", 10, 5, 0), `id="documents-link"`} {
		if !strings.Contains(resp.Body, w) {
			t.Errorf("confirmation lacks %q", w)
		}
	}
	if strings.Contains(resp.Body, "验证码：") || strings.Contains(resp.Body, `id="verify-link"`) {
		t.Error("the confirmation promises a code")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' "+e.s3URL+";") {
		t.Errorf("CSP %q does not allow posts to the bucket %s", csp, e.s3URL)
	}
	forms := uploadForms(t, resp.Body)
	if len(forms) != 3 {
		t.Fatalf("%d upload forms, want pdf, jpeg and png", len(forms))
	}
	for typ, want := range map[string]string{"pdf": documents.TypePDF, "jpeg": documents.TypeJPEG, "png": documents.TypePNG} {
		f := forms[typ]
		if f.action != e.s3URL+"/"+uploadBucket || f.field("Content-Type") != want || f.field("x-amz-server-side-encryption") != "AES256" ||
			!strings.HasPrefix(f.field("key"), "uploads/incoming/"+id+"/") || f.field("policy") == "" {
			t.Errorf("%s form: action %s, fields %v", typ, f.action, f.fields)
		}
		redirect, _ := url.Parse(f.field("success_action_redirect"))
		if redirect.Host != sampleHost || redirect.Path != "/requests/"+id+"/documents/received" || redirect.Query().Get("ticket") == "" {
			t.Errorf("%s form redirects to %s", typ, redirect)
		}
	}
	if forms["pdf"].field("key") == forms["png"].field("key") {
		t.Error("two forms share a key")
	}

	received := postFile(t, forms["pdf"], testPDF)
	page := e.get(t, received)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("received page: %d\n%s", page.StatusCode, page.Body)
	}
	wantNotice := text(dsr.LocaleZhCN, "upload.received", "PDF", 1, 5)
	if !strings.Contains(page.Body, `<div class="notice" role="status" id="notice"><p>`+wantNotice) {
		t.Errorf("received page lacks the notice %q:\n%s", wantNotice, page.Body)
	}
	if !strings.Contains(page.Body, text(dsr.LocaleZhCN, "upload.next")) || !strings.Contains(page.Body, `<ul id="received"><li>第 1 份：PDF，1 KB，2026年3月2日收到</li></ul>`) {
		t.Errorf("received page lacks what happens next or the list:\n%s", page.Body)
	}
	if n := len(uploadForms(t, page.Body)); n != 3 {
		t.Errorf("received page has %d forms, want 3 for the next file", n)
	}

	docs, err := e.store.ListDocuments(context.Background(), id)
	if err != nil || len(docs) != 1 {
		t.Fatalf("documents = %v, %v; want 1", docs, err)
	}
	d := docs[0]
	name := strings.TrimPrefix(forms["pdf"].field("key"), "uploads/incoming/"+id+"/")
	if d.Bucket != uploadBucket || d.Key != "uploads/documents/"+id+"/"+name || d.ContentType != documents.TypePDF || d.Size != int64(len(testPDF)) || d.Source != SourceUpload {
		t.Errorf("document = %+v", d)
	}
	if !e.objectExists(t, d.Key) || e.objectExists(t, forms["pdf"].field("key")) {
		t.Errorf("kept object exists %v, incoming exists %v; want true, false", e.objectExists(t, d.Key), e.objectExists(t, forms["pdf"].field("key")))
	}
	evs := e.events(t, id, EventDocumentReceived)
	if len(evs) != 1 || evs[0].Actor != ActorDocumentsPage || evs[0].Data["seq"] != "1" || evs[0].Data["contentType"] != documents.TypePDF ||
		evs[0].Data["size"] != itoa(len(testPDF)) || evs[0].Data["source"] != SourceUpload || len(evs[0].Data) != 4 {
		t.Errorf("audit events = %+v", evs)
	}
	if r, _ := e.store.GetRequest(context.Background(), id); r.Documents != 1 {
		t.Errorf("request counts %d documents", r.Documents)
	}
	if strings.Contains(e.logs.String(), name) || strings.Contains(e.logs.String(), "parent@example.com") {
		t.Errorf("logs name the object or the requester:\n%s", e.logs.String())
	}

	// A reload of the redirect records nothing more.
	again := e.get(t, received)
	if again.StatusCode != http.StatusOK || !strings.Contains(again.Body, wantNotice) {
		t.Errorf("reload: %d\n%s", again.StatusCode, again.Body)
	}
	if docs, _ := e.store.ListDocuments(context.Background(), id); len(docs) != 1 {
		t.Errorf("%d documents after a reload", len(docs))
	}
	if n := len(e.events(t, id, EventDocumentReceived)); n != 1 {
		t.Errorf("%d document_received events after a reload", n)
	}

	// The status page links to the documents page while the request is open.
	if st := e.get(t, statusLink(t, resp.Body)); !strings.Contains(st.Body, `id="documents-link" href="/requests/`+id+`/documents?token=`) {
		t.Errorf("status page lacks the documents link:\n%s", st.Body)
	}
}

// TestUploadRejected: a file that is not what its form says, one that S3
// refuses, and a ticket that is not ours are never recorded, and what
// reached the bucket is deleted.
func TestUploadRejected(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	resp := e.do(t, formPost(e.guardianForm(t)))
	id := pageRequestID(t, resp.Body)
	forms := uploadForms(t, resp.Body)

	t.Run("JPEG bytes through the PDF form", func(t *testing.T) {
		received := postFile(t, forms["pdf"], testJPEG)
		page := e.get(t, received)
		if page.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(page.Body, `<div class="alert" role="alert" id="alert"><p>`+text(dsr.LocaleZhCN, "upload.wrongType", "PDF")) {
			t.Errorf("%d\n%s", page.StatusCode, page.Body)
		}
		if e.objectExists(t, forms["pdf"].field("key")) {
			t.Error("the rejected file is still in the bucket")
		}
		if evs := e.events(t, id, EventDocumentRejected); len(evs) != 1 || evs[0].Data["reason"] != "wrong_type" {
			t.Errorf("rejection events = %+v", evs)
		}
	})
	t.Run("HTML through the PNG form", func(t *testing.T) {
		page := e.get(t, postFile(t, forms["png"], []byte("<html><script>alert(1)</script></html>")))
		if page.StatusCode != http.StatusUnsupportedMediaType || e.objectExists(t, forms["png"].field("key")) {
			t.Errorf("%d, object kept %v", page.StatusCode, e.objectExists(t, forms["png"].field("key")))
		}
	})
	t.Run("S3 refuses another Content-Type or a larger file", func(t *testing.T) {
		f := forms["jpeg"]
		tampered := pageForm{action: f.action}
		for _, fd := range f.fields {
			if fd.Name == "Content-Type" {
				fd.Value = "text/html"
			}
			tampered.fields = append(tampered.fields, fd)
		}
		if r := postFileResp(t, tampered, testJPEG); r.StatusCode != http.StatusForbidden {
			t.Errorf("Content-Type text/html: S3 answered %d", r.StatusCode)
		}
		big := append(bytes.Clone(testJPEG), make([]byte, documents.MaxUploadBytes)...)
		if r := postFileResp(t, f, big); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%d bytes: S3 answered %d", len(big), r.StatusCode)
		}
		if e.objectExists(t, f.field("key")) {
			t.Error("a refused post stored an object")
		}
	})
	t.Run("nothing uploaded", func(t *testing.T) {
		page := e.get(t, forms["jpeg"].field("success_action_redirect"))
		if page.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, text(dsr.LocaleZhCN, "upload.missing")) {
			t.Errorf("%d\n%s", page.StatusCode, page.Body)
		}
	})
	t.Run("tickets", func(t *testing.T) {
		redirect, _ := url.Parse(forms["jpeg"].field("success_action_redirect"))
		q := redirect.Query()
		ticket := q.Get("ticket")
		for name, tc := range map[string]struct {
			ticket string
			want   string
		}{
			"a changed byte":    {ticket[:10] + string(rune('A'+(ticket[10]-'A'+1)%26)) + ticket[11:], "upload.ticketInvalid"},
			"cut short":         {ticket[:20], "upload.ticketInvalid"},
			"another request's": {e.h.newTicket("r-aaaaaaaaaaaaaaaaaaaaaaaaaa", upload{name: documents.NewName(), contentType: documents.TypePDF, issued: e.clock.Now()}), "upload.ticketInvalid"},
		} {
			q.Set("ticket", tc.ticket)
			page := e.get(t, redirect.Path+"?"+q.Encode())
			if page.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, text(dsr.LocaleZhCN, tc.want)) {
				t.Errorf("%s: %d\n%s", name, page.StatusCode, page.Body)
			}
		}
		q.Set("ticket", ticket)
		q.Set("token", "wrong-token")
		if page := e.get(t, redirect.Path+"?"+q.Encode()); page.StatusCode != http.StatusNotFound {
			t.Errorf("wrong token: %d", page.StatusCode)
		}
	})
	if docs, _ := e.store.ListDocuments(context.Background(), id); len(docs) != 0 {
		t.Errorf("%d documents recorded, want none", len(docs))
	}
}

// TestUploadTicketExpires: a file posted through a form older than its
// life and a day is not taken.
func TestUploadTicketExpires(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	resp := e.do(t, formPost(e.guardianForm(t)))
	id := pageRequestID(t, resp.Body)
	received := postFile(t, uploadForms(t, resp.Body)["pdf"], testPDF)
	e.clock.Advance(time.Hour + ticketGrace + time.Minute)
	page := e.get(t, received)
	if page.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, text(dsr.LocaleZhCN, "upload.ticketExpired")) {
		t.Errorf("%d\n%s", page.StatusCode, page.Body)
	}
	if docs, _ := e.store.ListDocuments(context.Background(), id); len(docs) != 0 {
		t.Errorf("%d documents recorded from an expired ticket", len(docs))
	}
}

// TestUploadLimit: five files are taken; the page then offers no form and
// says where to send more, and a sixth posted through an older form is
// deleted.
func TestUploadLimit(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t, func(c *Config) { c.PrivacyContact = "dpo@example.cn" })
	resp := e.do(t, formPost(e.guardianForm(t)))
	id := pageRequestID(t, resp.Body)
	docsPage := e.get(t, mustLink(t, resp.Body, "documents-link"))
	if docsPage.StatusCode != http.StatusOK {
		t.Fatalf("documents page: %d\n%s", docsPage.StatusCode, docsPage.Body)
	}
	var spare pageForm
	for i := 1; i <= documents.MaxUploads; i++ {
		forms := uploadForms(t, docsPage.Body)
		if i == documents.MaxUploads {
			spare = forms["png"]
		}
		docsPage = e.get(t, postFile(t, forms["pdf"], testPDF))
		if docsPage.StatusCode != http.StatusOK || !strings.Contains(docsPage.Body, text(dsr.LocaleZhCN, "upload.received", "PDF", i, 5)) {
			t.Fatalf("upload %d: %d\n%s", i, docsPage.StatusCode, docsPage.Body)
		}
	}
	if n := len(uploadForms(t, docsPage.Body)); n != 0 || !strings.Contains(docsPage.Body, text(dsr.LocaleZhCN, "upload.full", 5, "dpo@example.cn", id)) {
		t.Errorf("at the limit the page has %d forms:\n%s", n, docsPage.Body)
	}
	sixth := e.get(t, postFile(t, spare, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")))
	if sixth.StatusCode != http.StatusConflict || !strings.Contains(sixth.Body, text(dsr.LocaleZhCN, "upload.limit", 5, "我们的隐私团队（dpo@example.cn）")) {
		t.Errorf("sixth upload: %d\n%s", sixth.StatusCode, sixth.Body)
	}
	if e.objectExists(t, spare.field("key")) {
		t.Error("the sixth file is still in the bucket")
	}
	if docs, _ := e.store.ListDocuments(context.Background(), id); len(docs) != documents.MaxUploads {
		t.Errorf("%d documents, want %d", len(docs), documents.MaxUploads)
	}
}

var linkRE = regexp.MustCompile(`id="([\w-]+)" href="([^"]+)"`)

// mustLink is the href of the link with id on a page.
func mustLink(t testing.TB, page, id string) string {
	t.Helper()
	for _, m := range linkRE.FindAllStringSubmatch(page, -1) {
		if m[1] == id {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no link %s on the page:\n%s", id, page)
	return ""
}

// TestDocumentsPageRefusals: a requester acting for themselves, a closed
// request and a wrong token get no upload form; a ticket for a request that
// takes no documents records nothing and deletes the file.
func TestDocumentsPageRefusals(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	self := e.do(t, formPost(e.sampleForm(t)))
	selfID := pageRequestID(t, self.Body)
	if strings.Contains(self.Body, `class="upload"`) || strings.Contains(self.Body, "upload-title") {
		t.Error("a requester acting for themselves is offered uploads")
	}
	token := mustQuery(t, statusLink(t, self.Body)).Get("token")
	page := e.get(t, "/requests/"+selfID+"/documents?token="+url.QueryEscape(token))
	if page.StatusCode != http.StatusConflict || !strings.Contains(page.Body, text(dsr.LocaleZhCN, "upload.notForSelf")) || strings.Contains(page.Body, `type="file"`) {
		t.Errorf("self: %d\n%s", page.StatusCode, page.Body)
	}
	// A ticket signed for the self request (no form would carry one).
	name := documents.NewName()
	incoming := "uploads/incoming/" + selfID + "/" + name
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(uploadBucket), Key: aws.String(incoming), Body: bytes.NewReader(testPDF), ContentType: aws.String(documents.TypePDF)}); err != nil {
		t.Fatal(err)
	}
	ticket := e.h.newTicket(selfID, upload{name: name, contentType: documents.TypePDF, issued: e.clock.Now()})
	if page := e.get(t, "/requests/"+selfID+"/documents/received?token="+url.QueryEscape(token)+"&ticket="+ticket); page.StatusCode != http.StatusConflict {
		t.Errorf("received for a self request: %d", page.StatusCode)
	}
	if docs, _ := e.store.ListDocuments(context.Background(), selfID); len(docs) != 0 || e.objectExists(t, incoming) {
		t.Errorf("self request: %d documents, object kept %v", len(docs), e.objectExists(t, incoming))
	}

	guardian := e.do(t, formPost(e.guardianForm(t)))
	id := pageRequestID(t, guardian.Body)
	link := mustLink(t, guardian.Body, "documents-link")
	if page := e.get(t, strings.Replace(link, "token=", "token=x", 1)); page.StatusCode != http.StatusNotFound {
		t.Errorf("wrong token: %d", page.StatusCode)
	}
	req, _ := e.store.GetRequest(context.Background(), id)
	if _, err := e.store.TransitionStatus(context.Background(), id, req.Status, dsr.StatusRefused, req.Version, func(r *dsr.Request) { r.RefusalReason = dsr.RefusalAuthorityNotProven }); err != nil {
		t.Fatal(err)
	}
	closed := e.get(t, link)
	if closed.StatusCode != http.StatusConflict || !strings.Contains(closed.Body, text(dsr.LocaleZhCN, "upload.closed")) || strings.Contains(closed.Body, `type="file"`) {
		t.Errorf("closed: %d\n%s", closed.StatusCode, closed.Body)
	}
	if st := e.get(t, statusLink(t, guardian.Body)); strings.Contains(st.Body, "documents-link") {
		t.Error("the status page of a closed request links to the documents page")
	}
}

// TestDocumentsPageEnglish: the page in English, its language switch, and
// its accessibility.
func TestDocumentsPageEnglish(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	resp := e.do(t, formPost(e.guardianForm(t)))
	link := mustLink(t, resp.Body, "documents-link")
	en := e.get(t, strings.Replace(link, "lang=zh-CN", "lang=en", 1))
	for _, w := range []string{`<html lang="en">`, "Send your documents", text(dsr.LocaleEn, "upload.next"), "Upload the PDF file", `accept="application/pdf,.pdf"`,
		`lang="zh-CN" hreflang="zh-CN">中文</a>`} {
		if !strings.Contains(en.Body, w) {
			t.Errorf("English page lacks %q", w)
		}
	}
	if strings.Contains(en.Body, "verification code to you") && !strings.Contains(en.Body, "We send no verification code") {
		t.Error("the page promises a code")
	}
	if problems := checkAccessibility(en.Body, sampleOrigin, e.s3URL); len(problems) > 0 {
		t.Errorf("accessibility: %v", problems)
	}
	if problems := checkAccessibility(resp.Body, sampleOrigin, e.s3URL); len(problems) > 0 {
		t.Errorf("confirmation accessibility: %v", problems)
	}
}

func TestUploadConfig(t *testing.T) {
	t.Parallel()
	table := emu.NewTable(t)
	cfg := testConfig(table, intaketest.StateMachineArn, 3)
	cfg.UploadBucket, cfg.UploadPrefix, cfg.UploadSSE, cfg.UploadFormTTL = uploadBucket, "uploads/", documents.SSES3, time.Hour
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	if _, err := New(cfg, Deps{Store: st, SFN: intaketest.NewSFN(t).Client()}); err == nil || !strings.Contains(err.Error(), "Deps.S3") {
		t.Errorf("New with a bucket and no S3 client: %v", err)
	}
	for _, edit := range []func(*Config){
		func(c *Config) { c.UploadSSE = "none" },
		func(c *Config) { c.UploadSSE = documents.SSEKMS },
		func(c *Config) { c.UploadPrefix = "no-slash" },
		func(c *Config) { c.UploadFormTTL = 24 * time.Hour },
	} {
		c := cfg
		edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), "UPLOAD_") {
			t.Errorf("config %+v: Check = %v", c, err)
		}
	}
	if err := cfg.Check(); err != nil {
		t.Errorf("valid upload config: %v", err)
	}
}
