package certsign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"dsrflow/internal/partner/certificate"
)

// Config names the signing key, as the close function reads it from its
// environment: a KMS key in AWS, a local key folder on the local stack.
// At most one is set; neither leaves certificates unsigned (Open
// returns nil).
type Config struct {
	// KeyID is the KMS key's ARN (ECC_NIST_P256, SIGN_VERIFY).
	KeyID string `env:"CERT_SIGNING_KEY_ID"`
	// LocalKeyDir holds the local signing key (OpenLocal creates it).
	LocalKeyDir string `env:"CERT_SIGNING_KEY_DIR"`
}

// Check reports a configuration naming both keys.
func (c Config) Check() error {
	if c.KeyID != "" && c.LocalKeyDir != "" {
		return errors.New("CERT_SIGNING_KEY_ID and CERT_SIGNING_KEY_DIR are both set: name one key")
	}
	if c.KeyID != "" && !keyIDPattern.MatchString(c.KeyID) {
		return fmt.Errorf("CERT_SIGNING_KEY_ID: invalid key ID")
	}
	return nil
}

// Open returns the configured signer, or nil when no key is configured.
func (c Config) Open(awsCfg aws.Config) (Signer, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	switch {
	case c.KeyID != "":
		return NewKMS(kms.NewFromConfig(awsCfg), c.KeyID)
	case c.LocalKeyDir != "":
		return OpenLocal(c.LocalKeyDir)
	}
	return nil, nil
}

// Documents is the document signer of the key c names (an error when it
// names none): what the close function's main hands the workflow.
func (c Config) Documents(awsCfg aws.Config) (*DocumentSigner, error) {
	s, err := c.Open(awsCfg)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("no certificate signing key configured")
	}
	return NewDocumentSigner(s)
}

// DocumentSigner signs the certificate documents the workflow issues: it
// is the workflow's Signer (workflow.Deps.Signer), over a KMS or Local key.
type DocumentSigner struct {
	signer Signer
}

// NewDocumentSigner signs documents with s.
func NewDocumentSigner(s Signer) (*DocumentSigner, error) {
	if s == nil {
		return nil, errors.New("certificate signer: no key")
	}
	return &DocumentSigner{signer: s}, nil
}

// SignCertificate signs doc, a certificate's JSON (json.Marshal of a
// certificate.Certificate), and returns the signed certificate file
// (certificate.Signed.File): what the table keeps, `dsr certificate ID`
// prints and the final confirmation attaches. A document that is not
// exactly one certificate with a matching digest is refused, unsigned.
func (d *DocumentSigner) SignCertificate(ctx context.Context, doc []byte) ([]byte, error) {
	if len(doc) > certificate.MaxSignedBytes {
		return nil, fmt.Errorf("sign certificate: document of %d bytes, more than %d", len(doc), certificate.MaxSignedBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var c certificate.Certificate
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("sign certificate: not a certificate: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("sign certificate: data after the certificate")
	}
	signed, err := SignCertificate(ctx, d.signer, c)
	if err != nil {
		return nil, err
	}
	return signed.File()
}
