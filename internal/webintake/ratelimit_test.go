package webintake

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPerNetworkLimit: the posts of one client network - an IPv4 address,
// an IPv6 /64 - are counted across both post routes; above the limit the
// answer is 429 rate_limited with Retry-After, naming no count and no
// address; another network, and the next window, are not affected; the
// table never holds the address.
func TestPerNetworkLimit(t *testing.T) {
	env := newEnv(t, 3, func(c *Config) { c.RateLimit = RateLimit{Limit: 3, Window: 10 * time.Minute} })
	from := func(req *http.Request, addr string) *http.Request {
		req.RemoteAddr = addr
		return req
	}
	post := func(addr string) answer {
		return env.do(t, from(jsonPost(sampleJSONBody, rand.Text()), addr))
	}
	verify := func(addr string) answer {
		return env.do(t, from(postVerificationJSON(t, "r-nosuchrequest", `{"token":"x","code":"123456"}`, ""), addr))
	}
	limited := func(a answer) bool {
		return a.StatusCode == http.StatusTooManyRequests && strings.Contains(a.Body, string(CodeRateLimited))
	}

	// Three posts from 203.0.113.7, on either route, then it is refused.
	for i, a := range []answer{post("203.0.113.7:1111"), verify("203.0.113.7:2222"), post("203.0.113.7:3333")} {
		if limited(a) {
			t.Fatalf("post %d within the limit refused: %d %s", i+1, a.StatusCode, a.Body)
		}
	}
	over := post("203.0.113.7:4444")
	if !limited(over) {
		t.Fatalf("fourth post: %d %s, want 429 rate_limited", over.StatusCode, over.Body)
	}
	retry, err := strconv.Atoi(over.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 601 {
		t.Errorf("Retry-After %q, want the seconds left in the window", over.Header.Get("Retry-After"))
	}
	for _, leak := range []string{"203.0.113", "3"} {
		if strings.Contains(over.Body, `"`+leak) || strings.Contains(over.Body, leak+" ") {
			t.Errorf("the refusal quotes %q: %s", leak, over.Body)
		}
	}
	if a := verify("203.0.113.7:5555"); !limited(a) {
		t.Errorf("verification post over the limit: %d", a.StatusCode)
	}
	// The HTML form answers a page in the requester's language.
	page := env.do(t, from(formPost(env.sampleForm(t)), "203.0.113.7:6666"))
	if page.StatusCode != http.StatusTooManyRequests || !strings.Contains(page.Body, "来自您所在网络的请求过多") {
		t.Errorf("form over the limit: %d", page.StatusCode)
	}

	// Another address, and an IPv6 /64 counted as one network.
	if a := post("198.51.100.9:1"); limited(a) {
		t.Errorf("another network refused: %d", a.StatusCode)
	}
	for i, addr := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", "[2001:db8:1:2::abcd]:3"} {
		if a := post(addr); limited(a) {
			t.Errorf("IPv6 post %d refused", i+1)
		}
	}
	if a := post("[2001:db8:1:2::77]:4"); !limited(a) {
		t.Errorf("fourth post from one /64: %d, want 429", a.StatusCode)
	}
	if a := post("[2001:db8:1:3::1]:1"); limited(a) {
		t.Errorf("the next /64 refused: %d", a.StatusCode)
	}
	// An IPv4-mapped IPv6 address is its IPv4 address.
	if a := post("[::ffff:203.0.113.7]:1"); !limited(a) {
		t.Errorf("IPv4-mapped address not counted with its IPv4 address: %d", a.StatusCode)
	}

	// The next window starts afresh.
	env.clock.Advance(10 * time.Minute)
	if a := post("203.0.113.7:7777"); limited(a) {
		t.Errorf("next window refused: %d", a.StatusCode)
	}

	// The table holds keyed hashes, never an address.
	dump, err := emu.Dump(context.Background(), env.store.Table())
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"203.0.113", "2001:db8", "198.51.100"} {
		if strings.Contains(dump, addr) {
			t.Errorf("the table holds a client address (%s)", addr)
		}
	}
	if !strings.Contains(dump, "ip:") {
		t.Error("no per-network counter in the table")
	}
}

// TestClientNetwork: the network a RemoteAddr counts under.
func TestClientNetwork(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"203.0.113.7:443", "203.0.113.7/32"},
		{"203.0.113.7", "203.0.113.7/32"}, // API Gateway's source IP, no port
		{"[2001:db8:1:2:3:4:5:6]:1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"[::ffff:198.51.100.1]:9", "198.51.100.1/32"},
		{"", ""},
		{"localhost:80", ""},
		{"not an address", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/requests", nil)
		r.RemoteAddr = tt.remote
		got, ok := clientNetwork(r)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("clientNetwork(%q) = %q, %v; want %q", tt.remote, got, ok, tt.want)
		}
	}
}

// FuzzClientNetwork: any RemoteAddr gives a network or none, never a panic,
// and a network is a /32 or a /64.
func FuzzClientNetwork(f *testing.F) {
	for _, s := range []string{"203.0.113.7:443", "[2001:db8::1]:1", "::ffff:1.2.3.4", "[fe80::1%25eth0]:1", "", ":", "[]:", "1.2.3.4%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		r := httptest.NewRequest(http.MethodPost, "/requests", nil)
		r.RemoteAddr = remote
		n, ok := clientNetwork(r)
		if ok && !strings.HasSuffix(n, "/32") && !strings.HasSuffix(n, "/64") {
			t.Errorf("clientNetwork(%q) = %q", remote, n)
		}
	})
}

// TestRateLimitCheck: the configuration's limits.
func TestRateLimitCheck(t *testing.T) {
	for _, tt := range []struct {
		l  RateLimit
		ok bool
	}{
		{RateLimit{}, true},
		{RateLimit{Limit: 60, Window: 10 * time.Minute}, true},
		{RateLimit{Limit: -1, Window: time.Hour}, false},
		{RateLimit{Limit: 5, Window: time.Second}, false},
		{RateLimit{Limit: 5, Window: 48 * time.Hour}, false},
	} {
		if err := tt.l.Check(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.l, err)
		}
	}
}
