package certificate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// SignatureAlgorithm is the only signature algorithm of a Signed
// certificate: ECDSA on the NIST P-256 curve over the payload's SHA-256,
// the signature DER-encoded (ANSI X9.62, RFC 3279 §2.2.3). It is AWS KMS's
// name for it (SigningAlgorithm ECDSA_SHA_256, key spec ECC_NIST_P256).
const SignatureAlgorithm = "ECDSA_SHA_256"

// MaxSignedBytes bounds a signed certificate file; one with a hundred
// partners is under 100 KiB.
const MaxSignedBytes = 1 << 20

// ErrPayloadMismatch: a readable member of a Signed certificate
// ("certificate", "signature.algorithm", "signature.keyId") differs from
// the signed payload.
var ErrPayloadMismatch = errors.New("the certificate differs from the signed payload")

// ErrPayload: the payload is not a signed statement in canonical form.
var ErrPayload = errors.New("the signed payload is not a deletion certificate statement")

// Signed is a deletion certificate with its signature: what `dsr
// certificate ID` prints and what the final confirmation message attaches.
//
//	{
//	  "certificate": {"version": 1, "request": {...}, ..., "digest": "e38b…"},
//	  "signature": {
//	    "algorithm": "ECDSA_SHA_256",
//	    "keyId": "arn:aws-cn:kms:cn-north-1:111122223333:key/…",
//	    "value": "MEUCIQD…"
//	  },
//	  "payload": "eyJhbGdvcml0aG0iOi…"
//	}
//
// The signature covers exactly the payload's bytes (base64 in the file):
// the Statement's JSON as encoding/json's Marshal writes it (compact, fields
// in struct order, <, > and & escaped as \u003c, \u003e, \u0026, no
// trailing newline), that is {"algorithm":…,"keyId":…,"certificate":{…}}.
// "certificate", "signature.algorithm" and "signature.keyId" are readable
// copies of the payload's members and must equal them ("certificate" may be
// indented: with its insignificant white space removed it must equal the
// payload's certificate byte for byte). So every byte of the file is
// either signed or checked against what is. The payload travels as base64
// so that no JSON tool can change the signed bytes by re-encoding them.
//
// Anyone can check a certificate file cert.json with openssl, given the
// public key (key.pem, from `dsr certificate public-key`):
//
//	jq -r .payload cert.json | base64 -d > payload.json
//	jq -r .signature.value cert.json | base64 -d > signature.der
//	openssl dgst -sha256 -verify key.pem -signature signature.der payload.json
//
// prints "Verified OK"; payload.json is the statement that was signed (`jq
// .certificate payload.json` shows its certificate). `dsr certificate verify
// cert.json --public-key key.pem` checks, in addition, that the readable
// copies equal it and that the certificate's digest is right.
type Signed struct {
	Certificate json.RawMessage `json:"certificate"`
	Signature   Signature       `json:"signature"`
	Payload     []byte          `json:"payload"`
}

// Signature is a Signed certificate's signature.
type Signature struct {
	// Algorithm is SignatureAlgorithm.
	Algorithm string `json:"algorithm"`
	// KeyID names the signing key: the AWS KMS key's ARN, or
	// "local:sha256:<hex>" for a local key (the SHA-256 of its public key's
	// DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER |
	// sha256sum` prints it).
	KeyID string `json:"keyId"`
	// Value is the DER-encoded ECDSA signature (base64 in JSON).
	Value []byte `json:"value"`
}

// Statement is what a signature covers: this key, with this algorithm,
// signs this certificate.
type Statement struct {
	Algorithm   string      `json:"algorithm"`
	KeyID       string      `json:"keyId"`
	Certificate Certificate `json:"certificate"`
}

// Payload is the bytes a signature over st covers: st's JSON as
// encoding/json's Marshal writes it.
func (st Statement) Payload() ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("certificate payload: %w", err)
	}
	return b, nil
}

// NewSigned is the Signed certificate of st, whose payload (st.Payload())
// has the signature value sig.
func NewSigned(st Statement, sig []byte) (Signed, error) {
	payload, err := st.Payload()
	if err != nil {
		return Signed{}, err
	}
	cert, err := json.Marshal(st.Certificate)
	if err != nil {
		return Signed{}, fmt.Errorf("certificate payload: %w", err)
	}
	return Signed{
		Certificate: cert,
		Signature:   Signature{Algorithm: st.Algorithm, KeyID: st.KeyID, Value: bytes.Clone(sig)},
		Payload:     payload,
	}, nil
}

// Open returns the certificate s carries, checking everything but the
// signature (certsign verifies that): the payload is a Statement in
// canonical form with no unknown field (ErrPayload), the readable members
// equal it (ErrPayloadMismatch), and the certificate's digest matches its
// content (ErrDigest).
func (s Signed) Open() (Certificate, error) {
	if len(s.Payload) == 0 || len(s.Payload) > MaxSignedBytes {
		return Certificate{}, fmt.Errorf("%w: %d bytes", ErrPayload, len(s.Payload))
	}
	dec := json.NewDecoder(bytes.NewReader(s.Payload))
	dec.DisallowUnknownFields()
	var st Statement
	if err := dec.Decode(&st); err != nil {
		return Certificate{}, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Certificate{}, fmt.Errorf("%w: data after the statement", ErrPayload)
	}
	// Only Marshal's own output is a payload: no field spelled in another
	// case, no key twice, no other escaping.
	if again, err := st.Payload(); err != nil || !bytes.Equal(again, s.Payload) {
		return Certificate{}, fmt.Errorf("%w: not in canonical form", ErrPayload)
	}
	if st.Certificate.Version != Version {
		return Certificate{}, fmt.Errorf("%w: certificate version %d, want %d", ErrPayload, st.Certificate.Version, Version)
	}
	if st.Algorithm != s.Signature.Algorithm || st.KeyID != s.Signature.KeyID {
		return Certificate{}, fmt.Errorf("%w: signature algorithm or keyId", ErrPayloadMismatch)
	}
	cert, err := json.Marshal(st.Certificate)
	if err != nil {
		return Certificate{}, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, s.Certificate); err != nil || !bytes.Equal(compact.Bytes(), cert) {
		return Certificate{}, fmt.Errorf("%w: certificate", ErrPayloadMismatch)
	}
	if err := VerifyDigest(st.Certificate); err != nil {
		return Certificate{}, err
	}
	return st.Certificate, nil
}

// File is s as a file: indented JSON ending in a newline, HTML characters
// left as the payload escapes them. `dsr certificate ID` prints these bytes
// and the final confirmation message attaches them (AttachmentName).
func (s Signed) File() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode signed certificate: %w", err)
	}
	return buf.Bytes(), nil
}

// AttachmentName is the file name of request id's signed certificate as an
// attachment: deletion-certificate-<id>.json.
func AttachmentName(id string) string { return "deletion-certificate-" + id + ".json" }
