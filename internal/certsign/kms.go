package certsign

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSClient is the part of the AWS KMS client KMS uses (*kms.Client).
type KMSClient interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// KMS signs with an AWS KMS asymmetric key of key spec ECC_NIST_P256 and
// key usage SIGN_VERIFY: the private key never leaves KMS. The caller needs
// kms:Sign (to sign) and kms:GetPublicKey (to publish the public key) on it.
type KMS struct {
	client KMSClient
	keyID  string
}

// NewKMS signs with KMS key keyID. Give the key's ARN: it is what the
// signature names (certificate.Signature.KeyID), and it keeps meaning the
// same key, where an alias can be moved.
func NewKMS(client KMSClient, keyID string) (*KMS, error) {
	if client == nil {
		return nil, errors.New("kms signer: no KMS client")
	}
	if !keyIDPattern.MatchString(keyID) {
		return nil, fmt.Errorf("kms signer: invalid key ID %q", keyID)
	}
	return &KMS{client: client, keyID: keyID}, nil
}

// KeyID is the key ID NewKMS was given.
func (k *KMS) KeyID() string { return k.keyID }

// Sign asks KMS to sign digest (MessageType DIGEST, ECDSA_SHA_256): KMS
// does not hash it again.
func (k *KMS) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("kms sign: digest of %d bytes, want %d", len(digest), sha256.Size)
	}
	out, err := k.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(k.keyID),
		Message:          digest,
		MessageType:      kmstypes.MessageTypeDigest,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms sign with key %s: %w", k.keyID, err)
	}
	if out.SigningAlgorithm != kmstypes.SigningAlgorithmSpecEcdsaSha256 {
		return nil, fmt.Errorf("kms sign with key %s: signing algorithm %q, want %s", k.keyID, out.SigningAlgorithm, kmstypes.SigningAlgorithmSpecEcdsaSha256)
	}
	if len(out.Signature) == 0 || len(out.Signature) > maxSignatureBytes {
		return nil, fmt.Errorf("kms sign with key %s: signature of %d bytes", k.keyID, len(out.Signature))
	}
	return out.Signature, nil
}

// PublicKey fetches the key's public half (KMS GetPublicKey) and checks
// that the key is an ECC_NIST_P256 signing key.
func (k *KMS) PublicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	out, err := k.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(k.keyID)})
	if err != nil {
		return nil, fmt.Errorf("kms get public key %s: %w", k.keyID, err)
	}
	if out.KeySpec != kmstypes.KeySpecEccNistP256 || out.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("kms key %s: key spec %q, usage %q; want %s for %s", k.keyID, out.KeySpec, out.KeyUsage, kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify)
	}
	if len(out.PublicKey) > maxPEMBytes {
		return nil, fmt.Errorf("kms key %s: public key of %d bytes", k.keyID, len(out.PublicKey))
	}
	pub, err := parsePublicKeyDER(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kms key %s: %w", k.keyID, err)
	}
	return pub, nil
}
