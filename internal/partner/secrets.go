package partner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"dsrflow/internal/secretstore"
)

// SecretResolver returns the secret a reference names. Implementations are
// per scheme: env: is built in; ssm: or secretsmanager: resolvers are given
// by the caller that has the AWS client (see Secrets).
type SecretResolver interface {
	Resolve(ctx context.Context, name string) ([]byte, error)
}

// ErrNoSecret is returned (wrapped) when a reference resolves to nothing.
var ErrNoSecret = errors.New("secret not found")

// MinSecretLen is the shortest signing secret accepted (128 bits).
const MinSecretLen = 16

// Env resolves env:NAME references from the process environment.
type Env struct {
	// Lookup defaults to os.LookupEnv.
	Lookup func(string) (string, bool)
}

// Resolve reads the variable name.
func (e Env) Resolve(_ context.Context, name string) ([]byte, error) {
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("environment variable %s: %w", name, ErrNoSecret)
	}
	return []byte(v), nil
}

// SecretGetter reads a secret by name: internal/secretstore's Manager
// (Secrets Manager, cached and refreshed), Dir (the local stack's folder)
// or Static.
type SecretGetter interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// SecretStore resolves secretsmanager: references through a SecretGetter,
// read at every use (the getter caches), so a rotated partner secret is
// picked up without a redeploy:
//
//	secretsmanager:#PARTNER_ANALYTICS_SECRET     key PARTNER_ANALYTICS_SECRET of the deployment's
//	                                             partner secret (Default: PARTNER_SECRETS_ID)
//	secretsmanager:<secret ID>#<key>             a key of another JSON secret
//	secretsmanager:<secret ID>                   a whole secret
type SecretStore struct {
	Getter SecretGetter
	// Default is the secret a reference "#KEY" names a key of: the
	// template's PartnerSecrets (PARTNER_SECRETS_ID).
	Default string
}

// Resolve reads the secret name refers to.
func (s SecretStore) Resolve(ctx context.Context, name string) ([]byte, error) {
	if strings.HasPrefix(name, "#") {
		if s.Default == "" {
			return nil, fmt.Errorf("%s names a key of the partner secret, but no partner secret is configured (PARTNER_SECRETS_ID): %w", name, ErrNoSecret)
		}
		name = s.Default + name
	}
	if s.Getter == nil {
		return nil, fmt.Errorf("no secret store: %w", ErrNoSecret)
	}
	v, err := s.Getter.Secret(ctx, name)
	if errors.Is(err, secretstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrNoSecret, err)
	}
	return v, err
}

// SecretStoreScheme is the scheme SecretStore resolves.
const SecretStoreScheme = "secretsmanager"

// Secrets resolves references of the form "<scheme>:<name>" with the
// resolver registered for the scheme:
//
//	env:PARTNER_ANALYTICS_SECRET               the environment (built in)
//	secretsmanager:#PARTNER_ANALYTICS_SECRET   Secrets Manager (SecretStore), where a getter is given
//
// A secret shorter than MinSecretLen is refused. Errors name the reference,
// never the secret.
type Secrets struct {
	Schemes map[string]SecretResolver
}

// NewSecrets returns Secrets with env: and the given extra schemes.
func NewSecrets(extra map[string]SecretResolver) *Secrets {
	s := &Secrets{Schemes: map[string]SecretResolver{"env": Env{}}}
	for k, v := range extra {
		s.Schemes[k] = v
	}
	return s
}

// Resolve returns the secret ref names.
func (s *Secrets) Resolve(ctx context.Context, ref string) ([]byte, error) {
	scheme, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" {
		return nil, fmt.Errorf("secret reference %q: want <scheme>:<name>", ref)
	}
	r, ok := s.Schemes[scheme]
	if !ok {
		return nil, fmt.Errorf("secret reference %q: no resolver for scheme %q", ref, scheme)
	}
	b, err := r.Resolve(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("secret reference %q: %w", ref, err)
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("secret reference %q: secret shorter than %d bytes", ref, MinSecretLen)
	}
	return b, nil
}
