// Package secretstore reads secrets at run time, so that no secret is an
// environment variable or a CloudFormation parameter: in AWS from Secrets
// Manager (on first use, cached, and read again after a refresh period, so
// that a rotated secret is picked up without a redeploy); on the local
// stack from files in its folder, behind the same Source interface.
//
// A secret's name is what the function's environment carries: a Secrets
// Manager ARN or name, optionally followed by "#KEY" to take one key of a
// secret whose value is a JSON object ("arn:...:secret:dsrflow-xyz#SUBJECT_KEY_SECRET").
package secretstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Source gives a secret's value by name.
type Source interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Limits.
const (
	// MaxName bounds a secret's name (a Secrets Manager ARN is at most
	// 2048 characters; a key after '#' is short).
	MaxName = 2300
	// MaxValue bounds a secret's value (Secrets Manager's own limit is
	// 64 KB).
	MaxValue = 64 << 10
	// DefaultRefresh is how long a value is used before it is read again.
	DefaultRefresh = 15 * time.Minute
)

// ErrNotFound: the secret, or the key inside it, does not exist.
var ErrNotFound = errors.New("secret not found")

// GetSecretValueAPI is the part of the Secrets Manager client Manager uses
// (*secretsmanager.Client).
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Config tunes a Manager.
type Config struct {
	// Refresh is how long a value is served from the cache (default
	// DefaultRefresh). After it, the next Secret reads Secrets Manager
	// again; if that fails, the cached value is served for up to one
	// more Refresh period (a Secrets Manager outage does not stop the
	// function), then the error is returned.
	Refresh time.Duration
}

// Deps are a Manager's client and clock.
type Deps struct {
	Client GetSecretValueAPI
	Clock  func() time.Time
}

// Manager reads secrets from AWS Secrets Manager, cached.
type Manager struct {
	client  GetSecretValueAPI
	clock   func() time.Time
	refresh time.Duration

	mu      sync.Mutex
	entries map[string]*entry // by secret ID (the name without #KEY)
}

type entry struct {
	mu      sync.Mutex // one read per secret at a time
	value   []byte
	fetched time.Time
}

// New returns a Manager.
func New(cfg Config, deps Deps) (*Manager, error) {
	if deps.Client == nil {
		return nil, errors.New("secretstore: no Secrets Manager client")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	return &Manager{client: deps.Client, clock: deps.Clock, refresh: cfg.Refresh, entries: map[string]*entry{}}, nil
}

// FromConfig is a Manager on a Secrets Manager client made from awsCfg.
func FromConfig(awsCfg aws.Config) *Manager {
	m, _ := New(Config{}, Deps{Client: secretsmanager.NewFromConfig(awsCfg)})
	return m
}

// Open returns the Source a function reads its secrets from: the files of
// dir (SECRETS_DIR: the local stack's folder, for a function run outside
// it) when dir is set, else Secrets Manager through awsCfg.
func Open(awsCfg aws.Config, dir string) Source {
	if dir != "" {
		return Dir{Path: dir}
	}
	return FromConfig(awsCfg)
}

// Read returns the secret name names, for the configuration variable that
// holds the name (errors name the variable and the secret, never the
// value): nil for an empty name; an error for a value shorter than minLen
// bytes.
func Read(ctx context.Context, src Source, variable, name string, minLen int) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	v, err := src.Secret(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", variable, err)
	}
	if len(v) < minLen {
		return nil, fmt.Errorf("%s: secret %s is shorter than %d bytes", variable, name, minLen)
	}
	return v, nil
}

// SplitName splits "ID#KEY" into the secret ID and the JSON key ("" for
// the whole value), checking both.
func SplitName(name string) (id, key string, err error) {
	if name == "" || len(name) > MaxName {
		return "", "", fmt.Errorf("secret name: empty or longer than %d bytes", MaxName)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return "", "", errors.New("secret name: spaces or control characters")
		}
	}
	id, key, _ = strings.Cut(name, "#")
	if id == "" {
		return "", "", errors.New("secret name: no secret ID before '#'")
	}
	if strings.Contains(name, "#") && key == "" {
		return "", "", errors.New("secret name: empty key after '#'")
	}
	return id, key, nil
}

// Secret returns the value of name (a secret ID, or ID#KEY).
func (m *Manager) Secret(ctx context.Context, name string) ([]byte, error) {
	id, key, err := SplitName(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	e := m.entries[id]
	if e == nil {
		e = &entry{}
		m.entries[id] = e
	}
	m.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := m.clock()
	if e.value == nil || now.Sub(e.fetched) >= m.refresh {
		v, err := m.fetch(ctx, id)
		switch {
		case err == nil:
			e.value, e.fetched = v, now
		case e.value != nil && now.Sub(e.fetched) < 2*m.refresh && !errors.Is(err, ErrNotFound):
			// Serve the last value through a short outage.
		default:
			return nil, err
		}
	}
	return pick(e.value, key)
}

func (m *Manager) fetch(ctx context.Context, id string) ([]byte, error) {
	out, err := m.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		var nf interface{ ErrorCode() string }
		if errors.As(err, &nf) && nf.ErrorCode() == "ResourceNotFoundException" {
			return nil, fmt.Errorf("secret %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("read secret %s: %w", id, err)
	}
	var v []byte
	switch {
	case out.SecretString != nil:
		v = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		v = out.SecretBinary
	}
	if len(v) == 0 || len(v) > MaxValue {
		return nil, fmt.Errorf("secret %s: empty or longer than %d bytes", id, MaxValue)
	}
	return v, nil
}

// pick returns the whole value (key "") or one string key of a JSON
// object value.
func pick(v []byte, key string) ([]byte, error) {
	if key == "" {
		return v, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil {
		return nil, fmt.Errorf("secret key %s: the secret is not a JSON object", key)
	}
	raw, ok := obj[key]
	if !ok {
		return nil, fmt.Errorf("secret key %s: %w", key, ErrNotFound)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return nil, fmt.Errorf("secret key %s: not a non-empty string", key)
	}
	return []byte(s), nil
}

// Dir reads secrets from files in a folder (the local stack's): the name
// is the file name, optionally with #KEY into a JSON object file.
type Dir struct {
	Path string
}

// Secret reads Path/<name>.
func (d Dir) Secret(_ context.Context, name string) ([]byte, error) {
	id, key, err := SplitName(name)
	if err != nil {
		return nil, err
	}
	if id != filepath.Base(id) || id == "." || id == ".." {
		return nil, errors.New("secret name: not a plain file name")
	}
	f, err := os.Open(filepath.Join(d.Path, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", id, err)
	}
	defer f.Close()
	v, err := io.ReadAll(io.LimitReader(f, MaxValue+1))
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", id, err)
	}
	v = bytes.TrimRight(v, "\r\n")
	if len(v) == 0 || len(v) > MaxValue {
		return nil, fmt.Errorf("secret %s: empty or longer than %d bytes", id, MaxValue)
	}
	return pick(v, key)
}

// Static serves fixed values (tests, and the local stack's generated
// secrets held in memory).
type Static map[string][]byte

// Secret returns the value of name.
func (s Static) Secret(_ context.Context, name string) ([]byte, error) {
	id, key, err := SplitName(name)
	if err != nil {
		return nil, err
	}
	v, ok := s[id]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", id, ErrNotFound)
	}
	return pick(v, key)
}
