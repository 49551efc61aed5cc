// Package smsaliyun sends text messages through Alibaba Cloud SMS
// (短信服务, dysmsapi, API version 2017-05-25, SendSms): the
// notify.SMSSender of the functions that write to phone-only requesters in
// the aws-cn partition, where AWS offers no SMS. There is no Go SDK for it
// in this project, so this is a small client: one form POST signed with
// Alibaba Cloud's V3 signature (ACS3-HMAC-SHA256, sign.go).
//
// Mainland Chinese SMS go only as registered templates under a registered
// signature (SignName, shown as 【SignName】 in front of the text). Each
// message template (notify.SMSTemplates) maps to a TemplateCode; the
// message's SMS parameters (notify.SMSContent.Params: "code", or "ref")
// become TemplateParam. The registered template texts should read like
// notify's (internal/notify/testdata/sms.golden), with ${code} or ${ref}
// where the value goes, for example:
//
//	verification_code (验证码):  验证码：${code}，用于核验您的个人信息请求，请勿告知他人。
//	reply (短信通知):            个人信息请求${ref}已处理完毕，答复请查看请求状态页面。
//
// Only mainland China mobile numbers (+86 1xxxxxxxxxx) are sent, as the
// API expects them: the 11 digits without +86. Other numbers fail with
// notify.ErrNoChannel (the requester is then verified or answered another
// way): international SMS through this API need separately registered
// international templates, which this project does not have.
//
// The parameters travel in the form body, not in the query string, so that
// the phone number is never part of a URL (net/http quotes URLs in its
// errors). The request ID goes as OutId, which Alibaba Cloud returns in
// delivery receipts. Credentials come from a CredentialSource on every
// send and are never logged; errors keep the API's Code only.
package smsaliyun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"dsrflow/internal/notify"
)

// API constants of SendSms.
const (
	// DefaultEndpoint is the SMS API endpoint (it serves every region).
	DefaultEndpoint = "https://dysmsapi.aliyuncs.com"
	apiVersion      = "2017-05-25"
	apiAction       = "SendSms"
	// maxResponse is the most of a response body read.
	maxResponse = 64 << 10
)

// Credentials are an AccessKey pair, and the STS token when the pair is
// temporary. They print as "[redacted]".
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// String, Format and LogValue keep the secret out of every print and log.
func (Credentials) String() string             { return "[redacted]" }
func (Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }
func (Credentials) LogValue() slog.Value       { return slog.StringValue("[redacted]") }

// usable reports that the pair is there and that nothing in what goes into
// headers could break them.
func (c Credentials) usable() bool {
	return c.AccessKeyID != "" && c.AccessKeySecret != "" && !strings.ContainsAny(c.AccessKeyID+c.SecurityToken, "\r\n\x00, ")
}

// maxCredentials bounds the secret ParseCredentials reads.
const maxCredentials = 4096

// ParseCredentials reads an AccessKey kept as JSON (a Secrets Manager
// secret string): {"accessKeyId": "...", "accessKeySecret": "...",
// "securityToken": "..." (optional)}. Errors name fields, never values.
func ParseCredentials(secret []byte) (Credentials, error) {
	if len(secret) > maxCredentials {
		return Credentials{}, fmt.Errorf("aliyun credentials: longer than %d bytes", maxCredentials)
	}
	var v struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
		SecurityToken   string `json:"securityToken"`
	}
	if err := json.Unmarshal(secret, &v); err != nil {
		return Credentials{}, errors.New("aliyun credentials: not a JSON object with accessKeyId and accessKeySecret")
	}
	c := Credentials{AccessKeyID: v.AccessKeyID, AccessKeySecret: v.AccessKeySecret, SecurityToken: v.SecurityToken}
	if !c.usable() {
		return Credentials{}, errors.New("aliyun credentials: accessKeyId and accessKeySecret are required, without spaces, commas or control characters in accessKeyId and securityToken")
	}
	return c, nil
}

// CredentialSource gives the credentials to sign with (the functions back
// it with AWS Secrets Manager). It is called for every message; cache in
// the source.
type CredentialSource interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// CredentialsFunc is a CredentialSource.
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// Credentials calls f.
func (f CredentialsFunc) Credentials(ctx context.Context) (Credentials, error) { return f(ctx) }

// Config is the registered signature and templates.
type Config struct {
	// Endpoint is the API's base URL; empty: DefaultEndpoint.
	Endpoint string
	// SignName is the registered signature (签名名称).
	SignName string
	// Templates maps each message template (notify.SMSTemplates) to its
	// registered TemplateCode ("SMS_123456789").
	Templates map[string]string
}

// Deps are the sender's collaborators.
type Deps struct {
	Credentials CredentialSource
	// HTTPClient is nil: a client with a 10-second timeout.
	HTTPClient *http.Client
	// Now is the clock of x-acs-date; nil: time.Now.
	Now func() time.Time
}

// Sender sends text messages through Alibaba Cloud SMS.
type Sender struct {
	cfg      Config
	endpoint *url.URL
	deps     Deps
}

// New checks cfg and returns a Sender. It does no I/O.
func New(cfg Config, deps Deps) (*Sender, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, errors.New("smsaliyun: endpoint must be scheme://host[:port] and nothing more")
	}
	u.Path = "/"
	if cfg.SignName == "" {
		return nil, errors.New("smsaliyun: no signature name")
	}
	if deps.Credentials == nil {
		return nil, errors.New("smsaliyun: no credential source")
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Sender{cfg: cfg, endpoint: u, deps: deps}, nil
}

// response is SendSms's answer (and the gateway's, for signature and
// throttling errors).
type response struct {
	Code      string `json:"Code"`
	RequestID string `json:"RequestId"`
	BizID     string `json:"BizId"`
}

// SendSMS sends m's SMS form to m.To.Phone as m's registered template. An
// error is a *notify.DeliveryError with the API's Code only.
func (s *Sender) SendSMS(ctx context.Context, m notify.Message) error {
	fail := func(code string, retryable bool, err error) error {
		return &notify.DeliveryError{RequestID: m.RequestID, Channel: notify.ChannelSMS, Code: code, Retryable: retryable, Err: err}
	}
	if m.To.Phone == "" {
		return fail("no phone number", false, notify.ErrNoChannel)
	}
	number, ok := MainlandNumber(m.To.Phone)
	if !ok {
		return fail("not a mainland China mobile number", false, notify.ErrNoChannel)
	}
	if m.SMS.Template == "" {
		return fail("no SMS form for template "+m.Template, false, errors.New("message has no SMS form"))
	}
	templateCode := s.cfg.Templates[m.SMS.Template]
	if templateCode == "" {
		return fail("no TemplateCode for template "+m.SMS.Template, false, errors.New("template not configured"))
	}
	form := url.Values{
		"PhoneNumbers": {number},
		"SignName":     {s.cfg.SignName},
		"TemplateCode": {templateCode},
		"OutId":        {m.RequestID},
	}
	if len(m.SMS.Params) > 0 {
		p, err := json.Marshal(m.SMS.Params)
		if err != nil {
			return fail("template parameters", false, err)
		}
		form.Set("TemplateParam", string(p))
	}
	creds, err := s.deps.Credentials.Credentials(ctx)
	if err != nil {
		return fail("credentials", true, err)
	}
	if !creds.usable() {
		return fail("credentials incomplete or malformed", false, errors.New("bad credentials"))
	}
	req, err := s.request(ctx, []byte(form.Encode()), creds)
	if err != nil {
		return fail("request", false, err)
	}
	resp, err := s.deps.HTTPClient.Do(req)
	if err != nil {
		// err quotes the URL, which holds no personal data; it is still
		// kept out of the code.
		code := "request failed"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err) {
			code = "timeout"
		}
		return fail(code, true, errors.New(code))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fail("read response", true, errors.New("read response"))
	}
	ok, code, retryable, noChannel := result(resp.StatusCode, raw)
	if ok {
		return nil
	}
	cause := errors.New(code)
	if noChannel {
		cause = notify.ErrNoChannel
	}
	return fail(code, retryable, cause)
}

// result reads SendSms's answer (status and body): whether the message was
// accepted, else the code to report, whether sending again may work and
// whether the number cannot be texted at all.
func result(status int, raw []byte) (ok bool, code string, retryable, noChannel bool) {
	var r response
	if json.Unmarshal(raw, &r) != nil || r.Code == "" {
		return false, fmt.Sprintf("HTTP %d without an API code", status), status >= 500 || status == http.StatusTooManyRequests, false
	}
	if r.Code == "OK" && status == http.StatusOK {
		return true, "", false, false
	}
	code, retryable, noChannel = classify(r.Code, status)
	return false, code, retryable, noChannel
}

// request is the signed SendSms POST with body.
func (s *Sender) request(ctx context.Context, body []byte, c Credentials) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	headers := map[string]string{
		"host":                  s.endpoint.Host,
		"content-type":          "application/x-www-form-urlencoded",
		"x-acs-action":          apiAction,
		"x-acs-version":         apiVersion,
		"x-acs-date":            s.deps.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"x-acs-signature-nonce": hex.EncodeToString(nonce[:]),
		"x-acs-content-sha256":  payloadHash(body),
	}
	if c.SecurityToken != "" {
		headers["x-acs-security-token"] = c.SecurityToken
	}
	for k, v := range headers {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", authorization(signInput{
		method: http.MethodPost, path: "/", headers: headers, payloadHash: headers["x-acs-content-sha256"],
	}, c.AccessKeyID, c.AccessKeySecret))
	return req, nil
}

// MainlandNumber is an E.164 mainland China mobile number (+86 and 11
// digits starting with 1) as SendSms takes it: the 11 digits.
func MainlandNumber(e164 string) (string, bool) {
	n, ok := strings.CutPrefix(e164, "+86")
	if !ok || len(n) != 11 || n[0] != '1' {
		return "", false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return "", false
		}
	}
	return n, true
}

// retryableCodes are the API codes for which sending again shortly may
// work: Alibaba Cloud's transient faults, throttling, the per-number
// frequency control (isv.BUSINESS_LIMIT_CONTROL: by default one message a
// minute, five an hour, ten a day to one number) and a nonce that happened
// to repeat.
var retryableCodes = map[string]bool{
	"isp.SYSTEM_ERROR":           true,
	"isv.BUSINESS_LIMIT_CONTROL": true,
	"ServiceUnavailable":         true,
	"InternalError":              true,
	"SignatureNonceUsed":         true,
}

// classify returns the code to report, whether sending again may work and
// whether the number cannot be texted at all.
func classify(apiCode string, status int) (code string, retryable, noChannel bool) {
	code = safeCode(apiCode)
	switch {
	case retryableCodes[code], strings.HasPrefix(code, "Throttling"):
		return code, true, false
	case code == "isv.MOBILE_NUMBER_ILLEGAL":
		return code, false, true
	case code == "unknown error":
		return code, status >= 500, false
	}
	// Everything else needs a person: the signature, a template or its
	// parameters, the account (balance, permissions, daily limits), or
	// the request itself.
	return code, false, false
}

// safeCode keeps an API code that looks like one (letters, digits, '.',
// '_', '-', at most 64), since it ends up in errors and logs.
func safeCode(code string) string {
	if code == "" || len(code) > 64 {
		return "unknown error"
	}
	for _, r := range code {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return "unknown error"
		}
	}
	return code
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
