// Package kmsfake serves the two AWS KMS operations deletion-certificate
// signing uses, Sign and GetPublicKey, over KMS's JSON protocol (awsJson1_1,
// X-Amz-Target TrentService.<Operation>), for one ECDSA P-256 key held in
// memory. Point an SDK client at it with BaseEndpoint or
// AWS_ENDPOINT_URL_KMS; requests are not authenticated.
//
// It behaves as KMS does for an ECC_NIST_P256 SIGN_VERIFY key: MessageType
// RAW (at most 4096 bytes, hashed here) or DIGEST (exactly 32 bytes), only
// SigningAlgorithm ECDSA_SHA_256, DER signatures, the public key as DER
// SubjectPublicKeyInfo, and errors as {"__type": ..., "message": ...} with
// status 400 (NotFoundException, ValidationException,
// InvalidKeyUsageException, UnknownOperationException).
package kmsfake

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

const (
	maxBody       = 64 << 10
	maxRawMessage = 4096 // KMS's limit on a RAW message
)

// Server is the fake KMS. Its fields are fixed after New.
type Server struct {
	key    *ecdsa.PrivateKey
	keyARN string
	signs  atomic.Int64
}

// New serves key under keyARN (arn:<partition>:kms:<region>:<account>:key/<id>);
// a request may name the key by that ARN or by its <id>.
func New(key *ecdsa.PrivateKey, keyARN string) *Server {
	return &Server{key: key, keyARN: keyARN}
}

// Signs is how many signatures the server has made.
func (s *Server) Signs() int64 { return s.signs.Load() }

type kmsError struct {
	status int
	typ    string
	msg    string
}

func fail(typ, format string, a ...any) *kmsError {
	return &kmsError{status: http.StatusBadRequest, typ: typ, msg: fmt.Sprintf(format, a...)}
}

// ServeHTTP answers one KMS API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, kerr := s.serve(r)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if kerr != nil {
		w.Header().Set("X-Amzn-ErrorType", kerr.typ)
		w.WriteHeader(kerr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": kerr.typ, "message": kerr.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) serve(r *http.Request) (any, *kmsError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, fail("UnknownOperationException", "want POST /")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		return nil, fail("ValidationException", "Content-Type %q, want application/x-amz-json-1.1", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fail("ValidationException", "request body unreadable or over %d bytes", maxBody)
	}
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.Sign":
		return s.sign(body)
	case "TrentService.GetPublicKey":
		return s.getPublicKey(body)
	default:
		return nil, fail("UnknownOperationException", "operation %q is not served", r.Header.Get("X-Amz-Target"))
	}
}

func (s *Server) checkKey(id string) *kmsError {
	if id == "" {
		return fail("ValidationException", "KeyId is required")
	}
	if id != s.keyARN && id != s.keyARN[strings.LastIndexByte(s.keyARN, '/')+1:] {
		return fail("NotFoundException", "Key '%s' does not exist", id)
	}
	return nil
}

type signInput struct {
	KeyId            string
	Message          []byte
	MessageType      string
	SigningAlgorithm string
	GrantTokens      []string
	DryRun           bool
}

type signOutput struct {
	KeyId            string
	Signature        []byte
	SigningAlgorithm string
}

func (s *Server) sign(body []byte) (any, *kmsError) {
	var in signInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fail("SerializationException", "%v", err)
	}
	if kerr := s.checkKey(in.KeyId); kerr != nil {
		return nil, kerr
	}
	if in.SigningAlgorithm != "ECDSA_SHA_256" {
		return nil, fail("InvalidKeyUsageException", "signing algorithm %q is not supported by key %s (ECC_NIST_P256: ECDSA_SHA_256)", in.SigningAlgorithm, s.keyARN)
	}
	var digest []byte
	switch in.MessageType {
	case "", "RAW":
		if len(in.Message) == 0 || len(in.Message) > maxRawMessage {
			return nil, fail("ValidationException", "Message must be 1 to %d bytes", maxRawMessage)
		}
		sum := sha256.Sum256(in.Message)
		digest = sum[:]
	case "DIGEST":
		if len(in.Message) != sha256.Size {
			return nil, fail("ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.")
		}
		digest = in.Message
	default:
		return nil, fail("ValidationException", "MessageType %q is not valid", in.MessageType)
	}
	if in.DryRun {
		return nil, fail("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest)
	if err != nil {
		return nil, &kmsError{status: http.StatusInternalServerError, typ: "KMSInternalException", msg: err.Error()}
	}
	s.signs.Add(1)
	return signOutput{KeyId: s.keyARN, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

type getPublicKeyOutput struct {
	KeyId                 string
	PublicKey             []byte
	KeySpec               string
	CustomerMasterKeySpec string
	KeyUsage              string
	SigningAlgorithms     []string
}

func (s *Server) getPublicKey(body []byte) (any, *kmsError) {
	var in struct {
		KeyId       string
		GrantTokens []string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fail("SerializationException", "%v", err)
	}
	if kerr := s.checkKey(in.KeyId); kerr != nil {
		return nil, kerr
	}
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		return nil, &kmsError{status: http.StatusInternalServerError, typ: "KMSInternalException", msg: err.Error()}
	}
	return getPublicKeyOutput{
		KeyId: s.keyARN, PublicKey: der, KeySpec: "ECC_NIST_P256", CustomerMasterKeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", SigningAlgorithms: []string{"ECDSA_SHA_256"},
	}, nil
}
