// Package certsign signs deletion certificates with an asymmetric key and
// checks them with the public key alone, so that the requester, or anyone
// they show it to, can verify their certificate without any access to AWS
// or to the audit trail.
//
// The key is ECDSA on NIST P-256: in AWS a KMS key (key spec ECC_NIST_P256,
// usage SIGN_VERIFY; KMS), locally a PKCS#8 key file (Local). What is
// signed, and how to check it with openssl, is described on
// certificate.Signed.
package certsign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"dsrflow/internal/partner/certificate"
)

// Signer signs with one ECDSA P-256 key.
type Signer interface {
	// Sign signs a SHA-256 digest (32 bytes) and returns the DER-encoded
	// ECDSA signature.
	Sign(ctx context.Context, digest []byte) ([]byte, error)
	// KeyID names the key in the signature (certificate.Signature.KeyID).
	KeyID() string
	// PublicKey is the key's public half.
	PublicKey(ctx context.Context) (*ecdsa.PublicKey, error)
}

// Limits on what is read from outside.
const (
	maxPEMBytes       = 16 << 10
	maxSignatureBytes = 256 // a P-256 DER signature is at most 72 bytes
)

// Errors of the verifiers. A signed certificate that does not verify
// fails with one of these, or with certificate.ErrPayloadMismatch,
// certificate.ErrPayload or certificate.ErrDigest.
var (
	ErrMalformed = errors.New("not a signed deletion certificate")
	ErrAlgorithm = errors.New("unsupported signature algorithm")
	ErrSignature = errors.New("the signature does not verify with this public key")
	ErrPublicKey = errors.New("not an ECDSA P-256 public key")
)

// keyIDPattern: key IDs are ARNs or local:sha256:<hex>; nothing that could
// disturb a terminal when an error prints one.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9:/_.+=,@-]{1,256}$`)

// SignCertificate signs c with s: the signature covers the payload of the
// statement (algorithm, s's key ID, c); see certificate.Signed. A
// certificate whose digest does not match its content is not signed.
func SignCertificate(ctx context.Context, s Signer, c certificate.Certificate) (certificate.Signed, error) {
	if err := certificate.VerifyDigest(c); err != nil {
		return certificate.Signed{}, fmt.Errorf("sign certificate of %s: %w", c.Request.ID, err)
	}
	id := s.KeyID()
	if !keyIDPattern.MatchString(id) {
		return certificate.Signed{}, fmt.Errorf("sign certificate of %s: invalid key ID %q", c.Request.ID, id)
	}
	st := certificate.Statement{Algorithm: certificate.SignatureAlgorithm, KeyID: id, Certificate: c}
	payload, err := st.Payload()
	if err != nil {
		return certificate.Signed{}, err
	}
	sum := sha256.Sum256(payload)
	sig, err := s.Sign(ctx, sum[:])
	if err != nil {
		return certificate.Signed{}, fmt.Errorf("sign certificate of %s: %w", c.Request.ID, err)
	}
	if len(sig) == 0 || len(sig) > maxSignatureBytes {
		return certificate.Signed{}, fmt.Errorf("sign certificate of %s: signature of %d bytes", c.Request.ID, len(sig))
	}
	return certificate.NewSigned(st, sig)
}

// Verify checks a signed certificate file (certJSON, as `dsr certificate ID`
// prints it) with a PEM public key ("PUBLIC KEY", from `dsr certificate
// public-key`) and nothing else: no AWS, no audit trail.
func Verify(certJSON, publicKeyPEM []byte) error {
	pub, err := ParsePublicKeyPEM(publicKeyPEM)
	if err != nil {
		return err
	}
	_, err = VerifyKey(certJSON, pub)
	return err
}

// VerifyKey is Verify with a parsed key; it returns the certificate.
func VerifyKey(certJSON []byte, pub *ecdsa.PublicKey) (certificate.Certificate, error) {
	s, err := ParseSigned(certJSON)
	if err != nil {
		return certificate.Certificate{}, err
	}
	return VerifySigned(s, pub)
}

// ParseSigned reads a signed certificate file strictly: one JSON object of
// at most certificate.MaxSignedBytes with exactly the fields of
// certificate.Signed, in the form encoding/json writes them (white space
// aside), a supported algorithm and a well-formed key ID. It does not check
// the signature.
func ParseSigned(certJSON []byte) (certificate.Signed, error) {
	if len(certJSON) > certificate.MaxSignedBytes {
		return certificate.Signed{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(certJSON), certificate.MaxSignedBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(certJSON))
	dec.DisallowUnknownFields()
	var s certificate.Signed
	if err := dec.Decode(&s); err != nil {
		return certificate.Signed{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return certificate.Signed{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	// Any other spelling of the same content (a key in another case or
	// twice, base64 with stray bits, escapes) is refused, so that one
	// certificate has one form.
	var compact bytes.Buffer
	if err := json.Compact(&compact, certJSON); err != nil {
		return certificate.Signed{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := json.Marshal(s)
	if err != nil || !bytes.Equal(again, compact.Bytes()) {
		return certificate.Signed{}, fmt.Errorf("%w: not in canonical form (fields, order or encoding changed)", ErrMalformed)
	}
	switch {
	case s.Signature.Algorithm != certificate.SignatureAlgorithm:
		return certificate.Signed{}, fmt.Errorf("%w %q: want %s", ErrAlgorithm, s.Signature.Algorithm, certificate.SignatureAlgorithm)
	case !keyIDPattern.MatchString(s.Signature.KeyID):
		return certificate.Signed{}, fmt.Errorf("%w: invalid signature keyId", ErrMalformed)
	case len(s.Signature.Value) == 0 || len(s.Signature.Value) > maxSignatureBytes:
		return certificate.Signed{}, fmt.Errorf("%w: signature value of %d bytes", ErrMalformed, len(s.Signature.Value))
	case len(s.Payload) == 0:
		return certificate.Signed{}, fmt.Errorf("%w: no payload", ErrMalformed)
	}
	return s, nil
}

// VerifySigned checks s's signature with pub, then opens it
// (certificate.Signed.Open: the readable copy, the payload and the digest).
func VerifySigned(s certificate.Signed, pub *ecdsa.PublicKey) (certificate.Certificate, error) {
	if s.Signature.Algorithm != certificate.SignatureAlgorithm {
		return certificate.Certificate{}, fmt.Errorf("%w %q: want %s", ErrAlgorithm, s.Signature.Algorithm, certificate.SignatureAlgorithm)
	}
	if err := checkKey(pub); err != nil {
		return certificate.Certificate{}, err
	}
	sum := sha256.Sum256(s.Payload)
	if !ecdsa.VerifyASN1(pub, sum[:], s.Signature.Value) {
		return certificate.Certificate{}, signatureError(s.Signature.KeyID, pub)
	}
	return s.Open()
}

// signatureError says why a signature may fail: a local key ID is the
// key's fingerprint, so a wrong key can be told from an altered
// certificate; a KMS key ARN cannot be matched to a public key offline.
func signatureError(keyID string, pub *ecdsa.PublicKey) error {
	fp, _ := Fingerprint(pub) // the key was checked: cannot fail
	if !keyIDPattern.MatchString(keyID) {
		keyID = "(invalid)"
	}
	switch {
	case strings.HasPrefix(keyID, "local:") && keyID != "local:"+fp:
		return fmt.Errorf("%w: the certificate was signed by key %s, the public key given is %s", ErrSignature, strings.TrimPrefix(keyID, "local:"), fp)
	case strings.HasPrefix(keyID, "local:"):
		return fmt.Errorf("%w: the certificate was altered after it was signed (key %s)", ErrSignature, fp)
	default:
		return fmt.Errorf("%w: the certificate was altered after it was signed, or its key %s is not the one given (%s)", ErrSignature, keyID, fp)
	}
}

// checkKey accepts a usable P-256 public key only.
func checkKey(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return ErrPublicKey
	}
	if _, err := pub.Bytes(); err != nil {
		return fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	return nil
}

// ParsePublicKeyPEM reads one PEM "PUBLIC KEY" block (DER
// SubjectPublicKeyInfo, as KMS GetPublicKey and `openssl pkey -pubout`
// give it) holding an ECDSA P-256 key.
func ParsePublicKeyPEM(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) > maxPEMBytes {
		return nil, fmt.Errorf("%w: %d bytes of PEM, more than %d", ErrPublicKey, len(b), maxPEMBytes)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrPublicKey)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: PEM block %q, want \"PUBLIC KEY\"", ErrPublicKey, block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrPublicKey)
	}
	return parsePublicKeyDER(block.Bytes)
}

func parsePublicKeyDER(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T", ErrPublicKey, k)
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// PublicKeyPEM writes pub as a PEM "PUBLIC KEY" block.
func PublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Fingerprint is "sha256:" and the hex SHA-256 of pub's DER
// SubjectPublicKeyInfo: `openssl pkey -pubin -in key.pem -outform DER |
// sha256sum` prints the same hex.
func Fingerprint(pub *ecdsa.PublicKey) (string, error) {
	if err := checkKey(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// LocalKeyID is the key ID a local key signs with: "local:" and its
// Fingerprint; "" for an unusable key.
func LocalKeyID(pub *ecdsa.PublicKey) string {
	fp, err := Fingerprint(pub)
	if err != nil {
		return ""
	}
	return "local:" + fp
}
