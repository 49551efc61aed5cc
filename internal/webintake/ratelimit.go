package webintake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"dsrflow/internal/dsr"
)

// Per-network limit on posts.
//
// AWS WAF's rate-based rules cannot attach to an API Gateway HTTP API (only
// to REST APIs, CloudFront and load balancers), so the per-IP rule the
// privacy center needs is here: every POST /requests and POST
// /requests/{id}/verification takes one from its client network's budget
// (store.TakeBudget: one conditional UpdateItem, no read-then-write) before
// anything else happens. A network is an IPv4 address or an IPv6 /64 (a
// host gets a whole /64 for nothing). The budget's key is a keyed hash of
// the network (the address is personal data: it is never stored, logged or
// quoted), and the counter expires with its window. Above the limit the
// answer is 429 with Retry-After, and a text that names no count. The
// limit is generous on purpose: many phones share one IPv4 address behind
// a carrier's NAT, and a person needs three or four posts; the message
// budget (notify) is what protects the people codes are sent to.

// RateLimit is the per-network limit (PER_IP_LIMIT posts in PER_IP_WINDOW;
// 0 turns it off).
type RateLimit struct {
	Limit  int           `env:"PER_IP_LIMIT" envDefault:"60"`
	Window time.Duration `env:"PER_IP_WINDOW" envDefault:"10m"`
}

// Check reports a negative limit, or, with a limit, a window outside 1
// minute to 24 hours. The zero RateLimit is off.
func (l RateLimit) Check() error {
	switch {
	case l.Limit < 0:
		return errors.New("PER_IP_LIMIT must be 0 (off) or more")
	case l.Limit > 0 && (l.Window < time.Minute || l.Window > 24*time.Hour):
		return errors.New("PER_IP_WINDOW must be from 1m to 24h")
	}
	return nil
}

// CodeRateLimited: too many posts from the client's network (429).
const CodeRateLimited dsr.Code = "rate_limited"

// budgetTaker is the part of the store the limit uses.
type budgetTaker interface {
	TakeBudget(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, error)
}

// clientNetwork is the network of r's client (API Gateway's source IP,
// which the adapter puts in RemoteAddr; host:port when served directly),
// as a prefix string; ok is false when RemoteAddr holds no address.
func clientNetwork(r *http.Request) (string, bool) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32).String(), true
	}
	p, _ := a.Prefix(64)
	return p.String(), true
}

// rateKey is the budget key of network n: a keyed hash, never the address.
func (h *Handler) rateKey(n string) string {
	m := hmac.New(sha256.New, h.rateKeySecret)
	m.Write([]byte(n))
	return "ip:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// limited wraps a POST handler with the per-network limit.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	if h.rateLimit.Limit <= 0 || h.budget == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		n, ok := clientNetwork(r)
		if !ok {
			// No address (never in AWS): one shared budget for all such.
			n = "unknown"
		}
		now := h.clock()
		taken, err := h.budget.TakeBudget(r.Context(), h.rateKey(n), h.rateLimit.Limit, h.rateLimit.Window, now)
		if err != nil {
			// The limit is a guard, not a gate: a store that cannot count
			// must not stop people from asking (the post itself needs the
			// store and fails on its own if it is down).
			h.logger.WarnContext(r.Context(), "per-network limit not checked", "error", err.Error())
			next(w, r)
			return
		}
		if !taken {
			l := requestLocale(r)
			end := now.UTC().Truncate(h.rateLimit.Window).Add(h.rateLimit.Window)
			w.Header().Set("Retry-After", strconv.Itoa(int(end.Sub(now).Seconds())+1))
			h.errorPage(w, r, l, http.StatusTooManyRequests, CodeRateLimited, "errors.rateLimited")
			return
		}
		next(w, r)
	}
}
