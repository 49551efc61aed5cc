package kmsfake_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"dsrflow/internal/dev/kmsfake"
)

const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func setup(t *testing.T) (*kms.Client, *ecdsa.PrivateKey, *httptest.Server) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(kmsfake.New(key, arn))
	t.Cleanup(srv.Close)
	c := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	return c, key, srv
}

func TestSignAndGetPublicKey(t *testing.T) {
	c, key, _ := setup(t)
	ctx := context.Background()
	msg := []byte("certificate payload")
	sum := sha256.Sum256(msg)
	for _, tt := range []struct {
		name string
		in   kms.SignInput
	}{
		{"digest by ARN", kms.SignInput{KeyId: aws.String(arn), Message: sum[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}},
		{"raw by key ID", kms.SignInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab"), Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}},
	} {
		out, err := c.Sign(ctx, &tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if aws.ToString(out.KeyId) != arn || out.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 || !ecdsa.VerifyASN1(&key.PublicKey, sum[:], out.Signature) {
			t.Errorf("%s: Sign = %s %s, signature verifies %v", tt.name, aws.ToString(out.KeyId), out.SigningAlgorithm, ecdsa.VerifyASN1(&key.PublicKey, sum[:], out.Signature))
		}
	}
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Errorf("GetPublicKey returned another key (%v)", err)
	}
	if pk.KeySpec != types.KeySpecEccNistP256 || pk.KeyUsage != types.KeyUsageTypeSignVerify || len(pk.SigningAlgorithms) != 1 || pk.SigningAlgorithms[0] != types.SigningAlgorithmSpecEcdsaSha256 {
		t.Errorf("GetPublicKey = %s %s %v", pk.KeySpec, pk.KeyUsage, pk.SigningAlgorithms)
	}
}

func TestErrors(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	sum := sha256.Sum256(nil)
	tests := []struct {
		name     string
		in       kms.SignInput
		wantCode string
	}{
		{"unknown key", kms.SignInput{KeyId: aws.String("alias/other"), Message: sum[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, "NotFoundException"},
		{"short digest", kms.SignInput{KeyId: aws.String(arn), Message: sum[:31], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, "ValidationException"},
		{"RSA algorithm", kms.SignInput{KeyId: aws.String(arn), Message: sum[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256}, "InvalidKeyUsageException"},
		{"raw message too long", kms.SignInput{KeyId: aws.String(arn), Message: make([]byte, 4097), MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, "ValidationException"},
		{"dry run", kms.SignInput{KeyId: aws.String(arn), Message: sum[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)}, "DryRunOperationException"},
	}
	for _, tt := range tests {
		_, err := c.Sign(ctx, &tt.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode {
			t.Errorf("%s: Sign error = %v, want %s", tt.name, err, tt.wantCode)
		}
	}
	var nf *types.NotFoundException
	if _, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("GetPublicKey(unknown key) = %v, want *types.NotFoundException", err)
	}
}

func TestProtocolErrors(t *testing.T) {
	_, _, srv := setup(t)
	for _, tt := range []struct {
		name, method, ctype, target, body, wantType string
	}{
		{"unknown operation", http.MethodPost, "application/x-amz-json-1.1", "TrentService.Decrypt", "{}", "UnknownOperationException"},
		{"GET", http.MethodGet, "application/x-amz-json-1.1", "TrentService.Sign", "", "UnknownOperationException"},
		{"wrong content type", http.MethodPost, "application/json", "TrentService.Sign", "{}", "ValidationException"},
		{"not JSON", http.MethodPost, "application/x-amz-json-1.1", "TrentService.Sign", "{", "SerializationException"},
		{"body too large", http.MethodPost, "application/x-amz-json-1.1", "TrentService.Sign", strings.Repeat(" ", 65<<10), "ValidationException"},
	} {
		req, err := http.NewRequest(tt.method, srv.URL+"/", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tt.ctype)
		req.Header.Set("X-Amz-Target", tt.target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType {
			t.Errorf("%s: %d %s, want 400 %s", tt.name, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tt.wantType)
		}
	}
}
