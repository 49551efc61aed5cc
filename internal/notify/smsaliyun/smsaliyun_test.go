package smsaliyun

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

const (
	keyID  = "LTAI5tTestKeyId"
	secret = "test-secret-never-logged"
	phone  = "+8613800138000"
)

var now = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// fakeDysms is Alibaba Cloud's SMS API as far as SendSms goes. It checks
// each request's V3 signature with its own reading of the documentation
// (not the client's code): the signed headers, the body hash, the date,
// a fresh nonce, the signature itself; a request that fails gets the
// gateway's error code. A request that passes is kept and answered with
// answer's code (default OK).
type fakeDysms struct {
	mu     sync.Mutex
	nonces map[string]bool
	forms  []url.Values
	// token is the STS token a request must carry, if any.
	token  string
	answer func(form url.Values) (status int, code string)
	delay  time.Duration
}

func (f *fakeDysms) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if code := f.verify(r, body); code != "" {
		reply(w, http.StatusBadRequest, code)
		return
	}
	if r.URL.RawQuery != "" {
		reply(w, http.StatusBadRequest, "UnexpectedQuery")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		reply(w, http.StatusBadRequest, "MissingPhoneNumbers")
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, form)
	answer, delay := f.answer, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	status, code := http.StatusOK, "OK"
	if answer != nil {
		status, code = answer(form)
	}
	reply(w, status, code)
}

// reply answers like the API: Code, a Message that may quote the request
// (the number), RequestId, and BizId on success.
func reply(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": "about 13800138000", "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990", "BizId": "900619746936498440^0"})
}

func (f *fakeDysms) verify(r *http.Request, body []byte) string {
	fields, ok := strings.CutPrefix(r.Header.Get("Authorization"), "ACS3-HMAC-SHA256 ")
	if !ok {
		return "IncompleteSignature"
	}
	auth := map[string]string{}
	for _, kv := range strings.Split(fields, ",") {
		k, v, _ := strings.Cut(kv, "=")
		auth[k] = v
	}
	if auth["Credential"] != keyID {
		return "InvalidAccessKeyId.NotFound"
	}
	signed := strings.Split(auth["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) {
		return "IncompleteSignature"
	}
	for _, must := range []string{"host", "content-type", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if !contains(signed, must) {
			return "IncompleteSignature"
		}
	}
	if r.Header.Get("x-acs-action") != "SendSms" || r.Header.Get("x-acs-version") != "2017-05-25" {
		return "InvalidAction.NotFound"
	}
	sum := sha256.Sum256(body)
	if r.Header.Get("x-acs-content-sha256") != hex.EncodeToString(sum[:]) {
		return "SignatureDoesNotMatch"
	}
	date, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date"))
	if err != nil || date.Sub(now).Abs() > 15*time.Minute {
		return "InvalidTimeStamp.Expired"
	}
	if tok := r.Header.Get("x-acs-security-token"); tok != f.token || (tok != "" && !contains(signed, "x-acs-security-token")) {
		return "InvalidSecurityToken.Mismatch"
	}
	f.mu.Lock()
	nonce := r.Header.Get("x-acs-signature-nonce")
	used := f.nonces[nonce] || len(nonce) < 16
	f.nonces[nonce] = true
	f.mu.Unlock()
	if used {
		return "SignatureNonceUsed"
	}
	var headers strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	var query []string
	q := r.URL.Query()
	for k := range q {
		for _, v := range q[k] {
			query = append(query, rfc3986(k)+"="+rfc3986(v))
		}
	}
	sort.Strings(query)
	canonical := r.Method + "\n" + r.URL.EscapedPath() + "\n" + strings.Join(query, "&") + "\n" + headers.String() + "\n" +
		auth["SignedHeaders"] + "\n" + r.Header.Get("x-acs-content-sha256")
	hashed := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(hashed[:])))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(auth["Signature"])) {
		return "SignatureDoesNotMatch"
	}
	return ""
}

// rfc3986 is the documented encoding done as Alibaba Cloud's SDKs do it:
// form-encode, then put %20 for '+', %2A for '*' and '~' for %7E.
func rfc3986(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var templates = map[string]string{
	notify.TemplateVerificationCode: "SMS_100000001", notify.TemplateVerificationLocked: "SMS_100000002",
	notify.TemplateExpired: "SMS_100000003", notify.TemplateRefused: "SMS_100000004",
	notify.TemplateDuplicate: "SMS_100000005", notify.TemplateReply: "SMS_100000006",
}

func staticCreds(c Credentials) CredentialSource {
	return CredentialsFunc(func(context.Context) (Credentials, error) { return c, nil })
}

func newSender(t *testing.T, creds Credentials, rt http.RoundTripper) (*Sender, *fakeDysms) {
	t.Helper()
	fake := &fakeDysms{nonces: map[string]bool{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 5 * time.Second, Transport: rt}
	s, err := New(Config{Endpoint: srv.URL, SignName: "示例音乐", Templates: templates}, Deps{
		Credentials: staticCreds(creds), HTTPClient: client, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, fake
}

var goodCreds = Credentials{AccessKeyID: keyID, AccessKeySecret: secret}

func TestSendSms(t *testing.T) {
	s, fake := newSender(t, goodCreds, nil)
	to := dsr.Contact{Phone: phone}
	tests := []struct {
		name string
		m    notify.Message
		want url.Values
	}{
		{
			"code", notify.VerificationCode("r-1", to, dsr.LocaleZhCN, "123456", now.Add(30*time.Minute), "https://x.example/v?token=t"),
			url.Values{"PhoneNumbers": {"13800138000"}, "SignName": {"示例音乐"}, "TemplateCode": {"SMS_100000001"}, "TemplateParam": {`{"code":"123456"}`}, "OutId": {"r-1"}},
		},
		{
			"reply, English", notify.Reply("r-2", to, dsr.LocaleEn, notify.ReplyContent{Kind: dsr.KindErasure, Partners: []notify.PartnerResult{{Name: "p", Action: "erase", Outcome: notify.OutcomeActed}}}, notify.Contact{}),
			url.Values{"PhoneNumbers": {"13800138000"}, "SignName": {"示例音乐"}, "TemplateCode": {"SMS_100000006"}, "TemplateParam": {`{"ref":"r-2"}`}, "OutId": {"r-2"}},
		},
		{
			"status link", notify.Refused("r-3", to, dsr.LocaleZhCN, dsr.KindAccess, dsr.RefusalReasons()[0], notify.Contact{}).WithStatusLink("https://x.example/requests/r-3?token=t"),
			url.Values{"PhoneNumbers": {"13800138000"}, "SignName": {"示例音乐"}, "TemplateCode": {"SMS_100000004"}, "TemplateParam": {`{"link":"https://x.example/requests/r-3?token=t","ref":"r-3"}`}, "OutId": {"r-3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SendSMS(context.Background(), tt.m); err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			fake.mu.Lock()
			got := fake.forms[len(fake.forms)-1]
			fake.mu.Unlock()
			if got.Encode() != tt.want.Encode() {
				t.Errorf("form\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// tamper changes the body after the client signed it.
type tamper struct{}

func (tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	body = bytes.Replace(body, []byte("13800138000"), []byte("13900139000"), 1)
	r = r.Clone(r.Context())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return http.DefaultTransport.RoundTrip(r)
}

// resign recomputes x-acs-content-sha256 for a tampered body but keeps the
// client's signature, so only the signature can catch it.
type resign struct{}

func (resign) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	body = bytes.Replace(body, []byte("13800138000"), []byte("13900139000"), 1)
	r = r.Clone(r.Context())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	r.Header.Set("x-acs-content-sha256", payloadHash(body))
	return http.DefaultTransport.RoundTrip(r)
}

// TestSignatureRefused checks that the fake refuses what it should, so
// that the successful sends above prove the signature right.
func TestSignatureRefused(t *testing.T) {
	tests := []struct {
		name     string
		creds    Credentials
		token    string
		rt       http.RoundTripper
		wantCode string
	}{
		{"wrong secret", Credentials{AccessKeyID: keyID, AccessKeySecret: "another-secret"}, "", nil, "SignatureDoesNotMatch"},
		{"unknown key", Credentials{AccessKeyID: "LTAIother", AccessKeySecret: secret}, "", nil, "InvalidAccessKeyId.NotFound"},
		{"body changed", goodCreds, "", tamper{}, "SignatureDoesNotMatch"},
		{"body and hash changed", goodCreds, "", resign{}, "SignatureDoesNotMatch"},
		{"STS token expected", goodCreds, "sts-token", nil, "InvalidSecurityToken.Mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, fake := newSender(t, tt.creds, tt.rt)
			fake.token = tt.token
			err := s.SendSMS(context.Background(), notify.Expired("r-4", dsr.Contact{Phone: phone}, dsr.LocaleZhCN, 7, notify.Contact{}))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Code != tt.wantCode || de.Retryable {
				t.Fatalf("error %v, want a permanent DeliveryError %s", err, tt.wantCode)
			}
			if len(fake.forms) != 0 {
				t.Errorf("the fake accepted %d requests", len(fake.forms))
			}
		})
	}
	t.Run("STS token signed", func(t *testing.T) {
		s, fake := newSender(t, Credentials{AccessKeyID: keyID, AccessKeySecret: secret, SecurityToken: "sts-token"}, nil)
		fake.token = "sts-token"
		if err := s.SendSMS(context.Background(), notify.Expired("r-5", dsr.Contact{Phone: phone}, dsr.LocaleZhCN, 7, notify.Contact{})); err != nil {
			t.Fatalf("SendSMS with an STS token: %v", err)
		}
	})
}

func TestSendErrors(t *testing.T) {
	s, fake := newSender(t, goodCreds, nil)
	tests := []struct {
		name          string
		to            string
		status        int
		code          string
		delay         time.Duration
		wantCode      string
		wantRetryable bool
		wantNoChannel bool
		wantCall      bool
	}{
		{"frequency control", phone, 200, "isv.BUSINESS_LIMIT_CONTROL", 0, "isv.BUSINESS_LIMIT_CONTROL", true, false, true},
		{"system error", phone, 200, "isp.SYSTEM_ERROR", 0, "isp.SYSTEM_ERROR", true, false, true},
		{"throttled by the gateway", phone, 400, "Throttling.User", 0, "Throttling.User", true, false, true},
		{"illegal number", phone, 200, "isv.MOBILE_NUMBER_ILLEGAL", 0, "isv.MOBILE_NUMBER_ILLEGAL", false, true, true},
		{"balance", phone, 200, "isv.AMOUNT_NOT_ENOUGH", 0, "isv.AMOUNT_NOT_ENOUGH", false, false, true},
		{"template", phone, 200, "isv.SMS_TEMPLATE_ILLEGAL", 0, "isv.SMS_TEMPLATE_ILLEGAL", false, false, true},
		{"daily limit", phone, 200, "isv.DAY_LIMIT_CONTROL", 0, "isv.DAY_LIMIT_CONTROL", false, false, true},
		{"a code that is not one", phone, 500, "<b>13800138000</b>", 0, "unknown error", true, false, true},
		{"OK with an error status", phone, 500, "OK", 0, "OK", false, false, true},
		{"timeout", phone, 200, "OK", 2 * time.Second, "timeout", true, false, true},
		{"Hong Kong number", "+85261234567", 200, "OK", 0, "not a mainland China mobile number", false, true, false},
		{"mainland landline", "+861012345678", 200, "OK", 0, "not a mainland China mobile number", false, true, false},
		{"no phone", "", 200, "OK", 0, "no phone number", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.forms, fake.delay = nil, tt.delay
			fake.answer = func(url.Values) (int, string) { return tt.status, tt.code }
			fake.mu.Unlock()
			// Only the timeout case needs a short deadline; the others get
			// room for a loaded machine.
			limit := 10 * time.Second
			if tt.delay > 0 {
				limit = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			err := s.SendSMS(ctx, notify.Duplicate("r-6", dsr.Contact{Phone: tt.to}, dsr.LocaleZhCN, dsr.KindAccess, "r-7", notify.Contact{}))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Code != tt.wantCode || de.Retryable != tt.wantRetryable || de.RequestID != "r-6" || de.Channel != notify.ChannelSMS {
				t.Fatalf("error %#v; want a DeliveryError for r-6 with code %q, retryable %v", err, tt.wantCode, tt.wantRetryable)
			}
			if got := errors.Is(err, notify.ErrNoChannel); got != tt.wantNoChannel {
				t.Errorf("errors.Is(ErrNoChannel) = %v, want %v", got, tt.wantNoChannel)
			}
			if msg := err.Error() + errors.Unwrap(err).Error(); strings.Contains(msg, "13800138000") || strings.Contains(msg, "61234567") {
				t.Errorf("error %q quotes the phone number", msg)
			}
			fake.mu.Lock()
			called := len(fake.forms) > 0
			fake.mu.Unlock()
			if called != tt.wantCall {
				t.Errorf("API called: %v, want %v", called, tt.wantCall)
			}
		})
	}
}

func TestConfigurationErrors(t *testing.T) {
	s, fake := newSender(t, goodCreds, nil)
	// A template without a TemplateCode, and a message without an SMS form.
	s.cfg.Templates = map[string]string{notify.TemplateReply: "SMS_1"}
	for _, m := range []notify.Message{
		notify.Expired("r-8", dsr.Contact{Phone: phone}, dsr.LocaleZhCN, 7, notify.Contact{}),
		{RequestID: "r-8", Template: "custom", To: dsr.Contact{Phone: phone}, Body: "b"},
	} {
		err := s.SendSMS(context.Background(), m)
		var de *notify.DeliveryError
		if !errors.As(err, &de) || de.Retryable || errors.Is(err, notify.ErrNoChannel) {
			t.Errorf("%s: error %v, want a permanent DeliveryError", m.Template, err)
		}
	}
	if len(fake.forms) != 0 {
		t.Errorf("API called %d times", len(fake.forms))
	}
	for _, bad := range []Credentials{{AccessKeyID: keyID}, {AccessKeyID: "a\nb", AccessKeySecret: "s"}, {AccessKeyID: "a,b", AccessKeySecret: "s"}} {
		s2, _ := newSender(t, bad, nil)
		err := s2.SendSMS(context.Background(), notify.Expired("r-9", dsr.Contact{Phone: phone}, dsr.LocaleZhCN, 7, notify.Contact{}))
		var de *notify.DeliveryError
		if !errors.As(err, &de) || de.Code != "credentials incomplete or malformed" {
			t.Errorf("bad credentials: %v", err)
		}
	}
	failing := CredentialsFunc(func(context.Context) (Credentials, error) {
		return Credentials{}, errors.New("secrets manager: throttled")
	})
	s3, err := New(Config{SignName: "x", Templates: templates}, Deps{Credentials: failing})
	if err != nil {
		t.Fatal(err)
	}
	err = s3.SendSMS(context.Background(), notify.Expired("r-10", dsr.Contact{Phone: phone}, dsr.LocaleZhCN, 7, notify.Contact{}))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Code != "credentials" || !de.Retryable {
		t.Errorf("credential source failing: %v, want a retryable DeliveryError credentials", err)
	}
	for _, cfg := range []Config{
		{Endpoint: "ftp://x", SignName: "x"}, {Endpoint: "https://x/path", SignName: "x"}, {Endpoint: "https://u:p@x", SignName: "x"},
		{Endpoint: "https://x?a=1", SignName: "x"}, {SignName: ""},
	} {
		if _, err := New(cfg, Deps{Credentials: failing}); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{SignName: "x"}, Deps{}); err == nil {
		t.Error("New without a credential source accepted")
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: keyID, AccessKeySecret: secret, SecurityToken: "tok-secret"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "creds", c)
	out := fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c) + buf.String()
	for _, s := range []string{secret, "tok-secret"} {
		if strings.Contains(out, s) {
			t.Errorf("printed credentials reveal %q: %s", s, out)
		}
	}
}

func TestMainlandNumber(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+8613800138000", "13800138000", true},
		{"+8619912345678", "19912345678", true},
		{"8613800138000", "", false},
		{"+86138001380001", "", false},
		{"+861380013800", "", false},
		{"+8603800138000", "", false},
		{"+86138001380a0", "", false},
		{"+85261234567", "", false},
		{"+14155550100", "", false},
	}
	for _, tt := range tests {
		if got, ok := MainlandNumber(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("MainlandNumber(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzResult feeds result arbitrary answers: it must not panic, and the
// code it reports must be safe to log (no quoted input beyond a code's
// characters).
func FuzzResult(f *testing.F) {
	f.Add(200, []byte(`{"Code":"OK","Message":"OK","BizId":"1","RequestId":"2"}`))
	f.Add(200, []byte(`{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控Permits:1"}`))
	f.Add(400, []byte(`{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}`))
	f.Add(503, []byte(`<html>Service Unavailable</html>`))
	f.Add(200, []byte(`{"Code":"13800138000 \n"}`))
	f.Add(200, []byte(`{"Code":123}`))
	f.Fuzz(func(t *testing.T, status int, raw []byte) {
		ok, code, _, _ := result(status, raw)
		if ok {
			return
		}
		if strings.HasPrefix(code, "HTTP ") || code == "unknown error" {
			return
		}
		if len(code) > 64 || strings.ContainsAny(code, " \r\n\"<>{}:") {
			t.Errorf("code %q is not safe to log", code)
		}
	})
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name, in string
		want     Credentials
		ok       bool
	}{
		{"pair", `{"accessKeyId":"LTAI1","accessKeySecret":"s3cr3t"}`, Credentials{AccessKeyID: "LTAI1", AccessKeySecret: "s3cr3t"}, true},
		{"with token", `{"accessKeyId":"STS.1","accessKeySecret":"s","securityToken":"tok"}`, Credentials{AccessKeyID: "STS.1", AccessKeySecret: "s", SecurityToken: "tok"}, true},
		{"no secret", `{"accessKeyId":"LTAI1"}`, Credentials{}, false},
		{"not JSON", `LTAI1:s3cr3t`, Credentials{}, false},
		{"too long", `{"accessKeyId":"` + strings.Repeat("a", 5000) + `","accessKeySecret":"s"}`, Credentials{}, false},
		{"comma in the ID", `{"accessKeyId":"a,b","accessKeySecret":"s"}`, Credentials{}, false},
	}
	for _, tt := range tests {
		got, err := ParseCredentials([]byte(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%s: ParseCredentials = %v, %v; want ok %v", tt.name, got.AccessKeyID, err, tt.ok)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "LTAI1")) {
			t.Errorf("%s: error %q quotes the secret", tt.name, err)
		}
	}
}

// FuzzParseCredentials: no panic; an accepted secret is usable; an error
// is one of the fixed texts, so it cannot quote the input.
func FuzzParseCredentials(f *testing.F) {
	fixed := map[string]bool{
		"aliyun credentials: longer than 4096 bytes":                                 true,
		"aliyun credentials: not a JSON object with accessKeyId and accessKeySecret": true,
		"aliyun credentials: accessKeyId and accessKeySecret are required, without spaces, commas or control characters in accessKeyId and securityToken": true,
	}
	f.Add([]byte(`{"accessKeyId":"LTAI1","accessKeySecret":"s3cr3t"}`))
	f.Add([]byte(`{"accessKeyId":"LTAI1","accessKeySecret":"s3cr3t","securityToken":"x\ny"}`))
	f.Add([]byte(`{"accessKeySecret":"zzzzzzzz"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseCredentials(raw)
		if err != nil {
			if c != (Credentials{}) {
				t.Error("credentials returned with an error")
			}
			if !fixed[err.Error()] {
				t.Errorf("error %q is not one of the fixed texts", err)
			}
			return
		}
		if !c.usable() {
			t.Errorf("accepted unusable credentials")
		}
	})
}
