package certsign

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"dsrflow/internal/partner/certificate"
)

// Config names the signing key, as the close function reads it from its
// environment: a KMS key in AWS, a local key folder on the local stack.
// Exactly one is set; neither leaves certificates unsigned (FromConfig
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
func (c Config) Documents(awsCfg aws.Config) (Documents, error) {
	s, err := c.Open(awsCfg)
	if err != nil {
		return Documents{}, err
	}
	if s == nil {
		return Documents{}, errors.New("no certificate signing key configured")
	}
	return Documents{Signer: s}, nil
}

// Documents signs certificate documents (the JSON certificate.Build's
// certificate marshals to) with a Signer: the workflow's close step stores
// the signed file it returns, the one `dsr certificate ID` prints.
type Documents struct {
	Signer Signer
}

// SignCertificate signs the certificate in doc and returns the signed file
// (certificate.Signed.File).
func (d Documents) SignCertificate(ctx context.Context, doc []byte) ([]byte, error) {
	if d.Signer == nil {
		return nil, errors.New("sign certificate: no signer")
	}
	c, err := certificate.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", ErrMalformed)
	}
	if strings.TrimSpace(c.Request.ID) == "" {
		return nil, fmt.Errorf("sign certificate: %w", ErrMalformed)
	}
	s, err := SignCertificate(ctx, d.Signer, c)
	if err != nil {
		return nil, err
	}
	out, err := s.File()
	if err != nil {
		return nil, fmt.Errorf("sign certificate of %s: %w", c.Request.ID, err)
	}
	return out, nil
}
