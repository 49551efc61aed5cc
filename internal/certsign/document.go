package certsign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"dsrflow/internal/partner/certificate"
)

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
