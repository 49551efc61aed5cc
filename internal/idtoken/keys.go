package idtoken

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// Limits of the key set fetch.
const (
	// maxJWKSBytes is the largest JWKS accepted; providers publish a few
	// keys of about 1 KiB each.
	maxJWKSBytes = 64 << 10
	// maxKeys is the most keys kept from one JWKS.
	maxKeys = 32
	// minRSABits is the smallest RSA key accepted (RFC 7518 3.3).
	minRSABits = 2048
	// fetchTimeout bounds one JWKS fetch (also bounded by the caller's
	// context).
	fetchTimeout = 5 * time.Second
	// refreshUnknownKID is how often an unknown key ID may make the set
	// be fetched again: a provider's new key is found within a minute, and
	// tokens with made-up key IDs cost at most one fetch a minute.
	refreshUnknownKID = time.Minute
	// maxAge is how long a fetched set is used before it is fetched again
	// on the next verification, so that a withdrawn key stops working.
	maxAge = time.Hour
	// retryAfterFailure is how long after a failed fetch verifications
	// answer token_unavailable at once instead of trying again.
	retryAfterFailure = 10 * time.Second
)

// errUnavailable: the key set could not be fetched.
var errUnavailable = errors.New("JWKS unavailable")

// remoteKeys is the provider's key set (JWKS) as a jwkset.Storage for
// keyfunc: fetched on first use, not at construction; kept for maxAge;
// fetched again for an unknown key ID at most once per refreshUnknownKID,
// never blocking a caller on that limit (jwkset's own HTTP storage fetches
// in its constructor, reads bodies without a limit and makes callers wait
// for its rate limiter). Fetch failures answer errUnavailable for
// retryAfterFailure; a set fetched before stays in use when fetching it
// again fails.
type remoteKeys struct {
	jwkset.Storage // the last set fetched

	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	loaded    bool      // a set was fetched
	fetchedAt time.Time // when the last set was fetched
	triedAt   time.Time // when a fetch was last tried
	kidAt     time.Time // when an unknown key ID last made a fetch
	failed    bool      // the last try failed
}

func newRemoteKeys(url string, client *http.Client, now func() time.Time) *remoteKeys {
	return &remoteKeys{Storage: jwkset.NewMemoryStorage(), url: url, client: client, now: now}
}

// KeyRead is the key with ID kid, fetching the set first if it has none
// or an old one, and again (rate-limited) when kid is unknown.
func (k *remoteKeys) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	if err := k.ensure(ctx, false); err != nil {
		return jwkset.JWK{}, err
	}
	jwk, err := k.Storage.KeyRead(ctx, kid)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		switch rerr := k.ensure(ctx, true); {
		case rerr == nil:
			return k.Storage.KeyRead(ctx, kid)
		case errors.Is(rerr, errUnavailable):
			return jwkset.JWK{}, rerr
		}
	}
	return jwk, err
}

// KeyReadAll is every key (for a token without a key ID).
func (k *remoteKeys) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	if err := k.ensure(ctx, false); err != nil {
		return nil, err
	}
	return k.Storage.KeyReadAll(ctx)
}

// ensure fetches the set when there is none, when it is older than maxAge,
// or, with unknownKID, when the last fetch is at least refreshUnknownKID
// old. It returns errUnavailable when there is no set to use. With
// unknownKID and the rate limit in force it returns an error at once.
func (k *remoteKeys) ensure(ctx context.Context, unknownKID bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	switch {
	case !k.loaded:
	case unknownKID && (k.kidAt.IsZero() || now.Sub(k.kidAt) >= refreshUnknownKID):
		k.kidAt = now
	case !unknownKID && now.Sub(k.fetchedAt) >= maxAge && now.Sub(k.triedAt) >= retryAfterFailure:
	case unknownKID:
		return jwkset.ErrKeyNotFound
	default:
		return nil
	}
	if k.failed && now.Sub(k.triedAt) < retryAfterFailure {
		if k.loaded && !unknownKID {
			return nil
		}
		return errUnavailable
	}
	k.triedAt = now
	set, err := k.fetch(ctx)
	if err != nil {
		k.failed = true
		if k.loaded && !unknownKID {
			return nil // keep using the set we have
		}
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if err := k.Storage.KeyReplaceAll(ctx, set); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	k.loaded, k.failed, k.fetchedAt = true, false, now
	return nil
}

// fetch gets and reads the JWKS: status 200, at most maxJWKSBytes, keys
// for signatures only (use "sig" or none), RSA keys of at least
// minRSABits, key types jwkset does not support skipped.
func (k *remoteKeys) fetch(ctx context.Context) ([]jwkset.JWK, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, errors.New("fetch failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, errors.New("read failed")
	}
	if len(raw) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New("not a JWKS")
	}
	var out []jwkset.JWK
	for _, m := range set.Keys {
		if len(out) == maxKeys {
			break
		}
		if m.USE != "" && m.USE != jwkset.UseSig {
			continue
		}
		if m.D != "" || m.K != "" {
			continue // a private or symmetric key has no place in a JWKS
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue // unsupported or broken: other keys may still serve
		}
		if pub, ok := jwk.Key().(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
			continue
		}
		out = append(out, jwk)
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signing key")
	}
	return out, nil
}
