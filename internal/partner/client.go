package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls partners over the signed protocol. It makes one try per
// call; retries belong to the caller: the state machine's Retry on
// PartnerRetryable, or Backoff outside Step Functions.
type Client struct {
	// HTTP defaults to a client that does not follow redirects.
	HTTP *http.Client
	// TryTimeout bounds one call; it defaults to 10 seconds.
	TryTimeout time.Duration
	// Now is the wall clock signatures are made with, and callbacks'
	// signatures checked against (the replay window needs real time, even
	// when the Dispatcher's business clock runs scaled); it defaults to
	// time.Now.
	Now func() time.Time
}

// DefaultTryTimeout bounds one call to a partner.
const DefaultTryTimeout = 10 * time.Second

var defaultHTTP = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Dispatch sends req to partner p (POST {endpoint}/requests), signed with
// secret, and returns the partner's checked answer. Errors are
// *PartnerRetryable, *PartnerRejected, *PartnerGarbage, *PartnerFailed (the
// partner answered failed or cancelled) or the context's error.
func (c *Client) Dispatch(ctx context.Context, p Partner, secret []byte, req Request) (Response, error) {
	if req.APIVersion == "" {
		req.APIVersion = APIVersion
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encode request %s for partner %s: %w", req.SubjectRequestID, p.ID, err)
	}
	resp, err := c.post(ctx, p, secret, PathRequests, body)
	if err != nil {
		return Response{}, err
	}
	r, err := ParseResponse(p.ID, req.SubjectRequestID, resp)
	if err != nil {
		return Response{}, err
	}
	if r.RequestStatus == StatusFailed || r.RequestStatus == StatusCancelled {
		return r, &PartnerFailed{PartnerID: p.ID, Code: failCode(r)}
	}
	return r, nil
}

func failCode(r Response) string {
	if r.ErrorCode != "" {
		return r.ErrorCode
	}
	return string(r.RequestStatus)
}

// Precheck asks the account system p about outstanding obligations.
func (c *Client) Precheck(ctx context.Context, p Partner, secret []byte, req PrecheckRequest) (PrecheckResponse, error) {
	if req.APIVersion == "" {
		req.APIVersion = APIVersion
	}
	body, err := json.Marshal(req)
	if err != nil {
		return PrecheckResponse{}, fmt.Errorf("encode precheck %s: %w", req.SubjectRequestID, err)
	}
	resp, err := c.post(ctx, p, secret, PathPrecheck, body)
	if err != nil {
		return PrecheckResponse{}, err
	}
	return parsePrecheck(p.ID, req.SubjectRequestID, resp)
}

// Resolve asks the account system p which accounts belong to the verified
// identities in req.
func (c *Client) Resolve(ctx context.Context, p Partner, secret []byte, req ResolveRequest) (ResolveResponse, error) {
	if req.APIVersion == "" {
		req.APIVersion = APIVersion
	}
	body, err := json.Marshal(req)
	if err != nil {
		return ResolveResponse{}, fmt.Errorf("encode resolve %s: %w", req.SubjectRequestID, err)
	}
	resp, err := c.post(ctx, p, secret, PathResolve, body)
	if err != nil {
		return ResolveResponse{}, err
	}
	return parseResolve(p.ID, req.SubjectRequestID, resp)
}

// PurgeStatus asks the backup system of p whether backups older than the
// deletion remain.
func (c *Client) PurgeStatus(ctx context.Context, p Partner, secret []byte, req PurgeStatusRequest) (PurgeStatusResponse, error) {
	if req.APIVersion == "" {
		req.APIVersion = APIVersion
	}
	body, err := json.Marshal(req)
	if err != nil {
		return PurgeStatusResponse{}, fmt.Errorf("encode purge status %s: %w", req.SubjectRequestID, err)
	}
	resp, err := c.post(ctx, p, secret, PathPurgeStatus, body)
	if err != nil {
		return PurgeStatusResponse{}, err
	}
	return parsePurgeStatus(p.ID, req.SubjectRequestID, resp)
}

func (c *Client) now() time.Time {
	if c != nil && c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// post makes one signed call and classifies the outcome: a 2xx body is
// returned; anything else is a named error.
func (c *Client) post(ctx context.Context, p Partner, secret []byte, path string, body []byte) ([]byte, error) {
	timeout := c.TryTimeout
	if timeout <= 0 {
		timeout = DefaultTryTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(tctx, http.MethodPost, strings.TrimRight(p.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, &PartnerRejected{PartnerID: p.ID, Code: "bad_endpoint"}
	}
	ts, sig := Sign(secret, c.now(), body)
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(HeaderTimestamp, ts)
	hreq.Header.Set(HeaderSignature, sig)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, transportErr(ctx, p.ID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseLen+1))
	if err != nil {
		return nil, transportErr(ctx, p.ID, err)
	}
	code := fmt.Sprintf("http_%d", resp.StatusCode)
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		return nil, &PartnerRetryable{PartnerID: p.ID, Code: code, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	case s >= 400:
		return nil, &PartnerRejected{PartnerID: p.ID, Code: code}
	case s < 200 || s >= 300:
		return nil, &PartnerRejected{PartnerID: p.ID, Code: code}
	}
	if len(data) > MaxResponseLen {
		return nil, &PartnerGarbage{PartnerID: p.ID, Code: "too_large"}
	}
	return data, nil
}

// transportErr: a per-try timeout or a connection failure is retryable; the
// caller's own cancellation is returned as is.
func transportErr(ctx context.Context, partnerID string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &PartnerRetryable{PartnerID: partnerID, Code: "timeout"}
	}
	return &PartnerRetryable{PartnerID: partnerID, Code: "connection"}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Backoff retries calls outside Step Functions (e.g. `dsr retry`) the way the
// state machine's Retry does: exponential backoff with full jitter, at most
// Attempts calls, waiting at least a partner's Retry-After.
type Backoff struct {
	Attempts int           // total calls, default 5
	Initial  time.Duration // default 1s
	Rate     float64       // default 2
	Max      time.Duration // cap on one wait, default 60s
	// Rand returns a number in [0, 1); it defaults to math/rand/v2.
	Rand func() float64
	// Sleep waits; it defaults to a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do calls fn until it succeeds, returns an error other than
// *PartnerRetryable, or Attempts calls were made; it returns fn's last
// error.
func (b Backoff) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	attempts := cmp(b.Attempts, 5)
	initial := cmpD(b.Initial, time.Second)
	maxD := cmpD(b.Max, time.Minute)
	rate := b.Rate
	if rate < 1 {
		rate = 2
	}
	rnd := b.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	sleep := b.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var err error
	for n := range attempts {
		if err = fn(ctx); err == nil {
			return nil
		}
		var re *PartnerRetryable
		if !errors.As(err, &re) || n == attempts-1 {
			return err
		}
		ceiling := math.Min(float64(maxD), float64(initial)*math.Pow(rate, float64(n)))
		wait := max(time.Duration(rnd()*ceiling), re.RetryAfter)
		if serr := sleep(ctx, wait); serr != nil {
			return serr
		}
	}
	return err
}

func cmp(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func cmpD(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
