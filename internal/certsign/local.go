package certsign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LocalKeyFile is the name of the local signing key in its directory: an
// ECDSA P-256 private key, PKCS#8 in a PEM "PRIVATE KEY" block, mode 0600.
const LocalKeyFile = "certificate-signing-key.pem"

// ErrNoLocalKey: the directory has no local signing key.
var ErrNoLocalKey = errors.New("no local certificate signing key")

// Local signs with a private key kept in a file, for the local stack; in
// AWS, use KMS. Its key ID is "local:" and the public key's Fingerprint, so
// it stays the same as long as the file does.
type Local struct {
	key *ecdsa.PrivateKey
	id  string
}

// OpenLocal loads the key in dir/LocalKeyFile, creating dir (0700) and a
// new key (0600) on first use. Concurrent first uses agree on one key: the
// file appears complete or not at all (written aside, then hard-linked into
// place without replacing an existing one).
func OpenLocal(dir string) (*Local, error) {
	l, err := LoadLocal(dir)
	if !errors.Is(err, ErrNoLocalKey) {
		return l, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local signing key: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("local signing key: encode: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("local signing key: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("local signing key: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("local signing key: write: %w", err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, LocalKeyFile)); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	// Whoever linked first won; everyone uses the file.
	return LoadLocal(dir)
}

// LoadLocal loads the key in dir/LocalKeyFile (ErrNoLocalKey when there
// is none). The file must be a regular file of at most 16 KiB that only its
// owner can read or write, holding one PEM "PRIVATE KEY" (PKCS#8) ECDSA
// P-256 key.
func LoadLocal(dir string) (*Local, error) {
	path := filepath.Join(dir, LocalKeyFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoLocalKey, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("local signing key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("local signing key %s: mode %04o lets others read or write it; want 0600 (chmod 600)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("local signing key: %w", err)
	}
	if len(b) > maxPEMBytes {
		return nil, fmt.Errorf("local signing key %s: more than %d bytes", path, maxPEMBytes)
	}
	key, err := parsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("local signing key %s: %w", path, err)
	}
	return &Local{key: key, id: LocalKeyID(&key.PublicKey)}, nil
}

func parsePrivateKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`want one PEM "PRIVATE KEY" (PKCS#8) block`)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, want an ECDSA P-256 key", k)
	}
	return key, nil
}

// KeyID is "local:sha256:<hex>", the public key's fingerprint.
func (l *Local) KeyID() string { return l.id }

// Sign signs a SHA-256 digest with the key.
func (l *Local) Sign(_ context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("local sign: digest of %d bytes, want %d", len(digest), sha256.Size)
	}
	return ecdsa.SignASN1(rand.Reader, l.key, digest)
}

// PublicKey is the key's public half.
func (l *Local) PublicKey(context.Context) (*ecdsa.PublicKey, error) {
	return &l.key.PublicKey, nil
}
