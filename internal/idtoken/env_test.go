package idtoken

import (
	"context"
	"fmt"
	"testing"
	"time"

	"dsrflow/internal/envconfig"
)

func TestFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		enabled bool
	}{
		{"nothing set", map[string]string{}, Config{Algorithms: []string{"RS256", "ES256"}, ClockSkew: time.Minute}, false},
		{
			"provider", map[string]string{"OIDC_ISSUER": issuer, "OIDC_AUDIENCE": audience, "OIDC_JWKS_URL": issuer + "/jwks"},
			Config{Issuer: issuer, Audience: audience, JWKSURL: issuer + "/jwks", Algorithms: []string{"RS256", "ES256"}, ClockSkew: time.Minute}, true,
		},
		{
			"algorithms and skew", map[string]string{"OIDC_ISSUER": issuer, "OIDC_AUDIENCE": audience, "OIDC_JWKS_URL": issuer + "/jwks", "OIDC_ALGORITHMS": "ES256", "OIDC_CLOCK_SKEW": "30s"},
			Config{Issuer: issuer, Audience: audience, JWKSURL: issuer + "/jwks", Algorithms: []string{"ES256"}, ClockSkew: 30 * time.Second}, true,
		},
	}
	for _, tt := range tests {
		got, err := envconfig.ParseFrom[Config](tt.env)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) || got.Enabled() != tt.enabled || got.Check() != nil {
			t.Errorf("%s: %+v, %v, check %v; want %+v", tt.name, got, err, got.Check(), tt.want)
		}
	}
	if _, err := envconfig.ParseFrom[Config](map[string]string{"OIDC_CLOCK_SKEW": "soon"}); err == nil {
		t.Error("OIDC_CLOCK_SKEW=soon accepted")
	}
}

// BenchmarkVerify measures one verification with the key set cached (the
// warm path of intake-web).
func BenchmarkVerify(b *testing.B) {
	testKeys(b)
	for _, s := range []signer{ecKey, rsaKey} {
		b.Run(s.alg.Alg(), func(b *testing.B) {
			j := newJWKS(b, ecKey, rsaKey)
			v := newVerifier(b, j, &clock{now: t0})
			raw := sign(b, s, claims())
			if _, err := v.Verify(context.Background(), raw); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFirstVerify measures New and the first Verify, which fetches
// the key set (from a loopback server: the real provider adds its network
// round trip), as on a cold intake-web.
func BenchmarkFirstVerify(b *testing.B) {
	testKeys(b)
	j := newJWKS(b, ecKey, rsaKey)
	raw := sign(b, ecKey, claims())
	b.ReportAllocs()
	for b.Loop() {
		v := newVerifier(b, j, &clock{now: t0})
		if _, err := v.Verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
