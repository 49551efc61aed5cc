package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/spf13/cobra"

	"dsrflow/internal/certsign"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// DefaultKeyDir is where the local stack keeps the certificate signing key
// (certsign.LocalKeyFile), relative to the working directory.
const DefaultKeyDir = ".local/keys"

// KeyIDVariable names the AWS KMS key (its ARN) that signs certificates in
// AWS: the key dsr fetches the public key of when no flag picks one.
const KeyIDVariable = "CERT_SIGNING_KEY_ID"

// maxPublicKeyFile bounds --public-key.
const maxPublicKeyFile = 16 << 10

// keySource picks the signing key whose public key dsr prints or checks
// with: --kms-key-id, else --key-dir, else $CERT_SIGNING_KEY_ID (KMS), else
// the local stack's key in DefaultKeyDir.
type keySource struct {
	keyDir, kmsKeyID string
	cmd              *cobra.Command
}

func (k *keySource) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.keyDir, "key-dir", DefaultKeyDir, "directory of the local stack's signing key ("+certsign.LocalKeyFile+")")
	f.StringVar(&k.kmsKeyID, "kms-key-id", "", "AWS KMS key ARN (ECC_NIST_P256, SIGN_VERIFY; default $"+KeyIDVariable+")")
	cmd.MarkFlagsMutuallyExclusive("key-dir", "kms-key-id")
	k.cmd = cmd
}

// signer opens the key: KMS (GetPublicKey, with the standard AWS
// configuration; AWS_ENDPOINT_URL_KMS honoured) or the local key file.
func (k *keySource) signer(ctx context.Context) (certsign.Signer, error) {
	id := k.kmsKeyID
	if id == "" && !k.cmd.Flags().Changed("key-dir") {
		id = os.Getenv(KeyIDVariable)
	}
	if id != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		s, err := certsign.NewKMS(kms.NewFromConfig(cfg), id)
		if err != nil {
			return nil, usageErrorf("--kms-key-id: %w", err)
		}
		return s, nil
	}
	l, err := certsign.LoadLocal(k.keyDir)
	if errors.Is(err, certsign.ErrNoLocalKey) {
		return nil, failuref("%w (the local stack creates it on first use; in AWS pass --kms-key-id or set %s)", err, KeyIDVariable)
	}
	if err != nil {
		return nil, failuref("%w", err)
	}
	return l, nil
}

// publicKey is the public half of the key k picks.
func (k *keySource) publicKey(ctx context.Context) (certsign.Signer, *ecdsa.PublicKey, error) {
	s, err := k.signer(ctx)
	if err != nil {
		return nil, nil, err
	}
	pub, err := s.PublicKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s, pub, nil
}

// readPublicKey reads a --public-key PEM file.
func readPublicKey(s *streams, file string) (*ecdsa.PublicKey, error) {
	pemBytes, err := readLimited(s, file, maxPublicKeyFile)
	if err != nil {
		return nil, usageErrorf("--public-key: %w", err)
	}
	pub, err := certsign.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		return nil, usageErrorf("--public-key %s: %w", file, err)
	}
	return pub, nil
}

// storedCertificate is a request's certificate as the table keeps it.
type storedCertificate struct {
	doc []byte
	// signed is the signed certificate (nil: the document is a bare
	// certificate, issued without a signing key).
	signed *certificate.Signed
	// cert is the certificate as the document shows it: for a signed one,
	// its readable copy, not yet checked against the signed payload.
	cert certificate.Certificate
}

// loadCertificate reads request id's certificate. No certificate, or one
// that is not a well-formed certificate (signed or bare), is a failure
// (exit 1) naming the request.
func loadCertificate(ctx context.Context, st *store.Store, id string) (storedCertificate, error) {
	doc, err := st.GetCertificate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return storedCertificate{}, failuref("request %s has no deletion certificate (only a completed erasure or account closure has one)", id)
	}
	if err != nil {
		return storedCertificate{}, err
	}
	return parseStoredCertificate(id, doc)
}

// parseStoredCertificate reads a stored certificate document: a signed
// certificate (it has a signature or a payload: certsign.ParseSigned, the
// signature not yet checked) or a bare certificate. The document is
// returned with the error, to be shown as it is.
func parseStoredCertificate(id string, doc []byte) (storedCertificate, error) {
	out := storedCertificate{doc: doc}
	if len(doc) > certificate.MaxSignedBytes {
		return out, failuref("the stored certificate of %s is %d bytes, more than %d", id, len(doc), certificate.MaxSignedBytes)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		return out, failuref("the stored certificate of %s is not a certificate: %v", id, err)
	}
	_, hasSig := members["signature"]
	_, hasPayload := members["payload"]
	if hasSig || hasPayload {
		sc, err := certsign.ParseSigned(doc)
		if err != nil {
			return out, failuref("the stored certificate of %s does not verify: %w", id, err)
		}
		out.signed = &sc
	}
	var err error
	if out.cert, err = certificate.Parse(doc); err != nil {
		return out, failuref("the stored certificate of %s is not a certificate: %v", id, err)
	}
	return out, nil
}

// print writes the certificate: a signed one as its file
// (certificate.Signed.File, what the final confirmation attaches), a bare
// one as indented JSON, a malformed one as stored.
func (c storedCertificate) print(w io.Writer) error {
	if c.signed != nil {
		b, err := c.signed.File()
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, c.doc, "", "  "); err != nil {
		buf.Reset()
		buf.Write(c.doc)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// newCertificateCmd is `dsr certificate ID [--verify]`, with the
// subcommands `verify FILE --public-key PEM` and `public-key`.
func newCertificateCmd(s *streams) *cobra.Command {
	var table, publicKeyFile string
	var verify bool
	var keys keySource
	cmd := &cobra.Command{
		Use:   "certificate ID [--verify [--public-key PEM | --kms-key-id KEY | --key-dir DIR]]",
		Short: "print a request's signed deletion certificate; --verify checks its signature and the audit chain",
		Long: "certificate prints the deletion certificate of an erasure or account closure: the signed\n" +
			"certificate file, JSON with the certificate (the request's IDs, kind and dates, each partner's\n" +
			"receipt, each backup system's confirmation, the head of the request's audit chain when it was\n" +
			"issued, a digest over all of it), the signature (algorithm ECDSA_SHA_256, the signing key's ID,\n" +
			"the value) and the signed payload. The final confirmation message attaches the same file.\n" +
			"A certificate issued without a signing key is printed as bare JSON, with a note on stderr.\n" +
			"\n" +
			"--verify also checks it, and says so on stderr: the signature, with the public key of\n" +
			"--public-key (a PEM file), else of the signing key (--kms-key-id, --key-dir, $" + KeyIDVariable + "\n" +
			"or " + DefaultKeyDir + ", as for \"dsr certificate public-key\"); that the readable certificate is\n" +
			"the one signed; its digest; the audit chain's integrity; the chain event the certificate quotes;\n" +
			"and the chain's record of its issuance. Exit 1 when any of it fails (the message names the\n" +
			"request and what failed), when the certificate is not signed, or when the request has none.\n" +
			"\n" +
			"Anyone holding a certificate file checks it with the public key alone, without AWS:\n" +
			"\"dsr certificate verify FILE --public-key PEM\"; \"dsr certificate public-key\" prints that key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			if !verify && (publicKeyFile != "" || cmd.Flags().Changed("key-dir") || keys.kmsKeyID != "") {
				return usageErrorf("certificate: --public-key, --kms-key-id and --key-dir pick the key --verify checks with; add --verify")
			}
			var pub *ecdsa.PublicKey
			if publicKeyFile != "" {
				var err error
				if pub, err = readPublicKey(s, publicKeyFile); err != nil {
					return err
				}
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			if _, err := getRequest(ctx, cl.st, cl.table, id); err != nil {
				return err
			}
			c, err := loadCertificate(ctx, cl.st, id)
			if c.doc != nil {
				if perr := c.print(s.out); perr != nil {
					return perr
				}
			}
			if err != nil {
				return err
			}
			if c.signed == nil {
				fmt.Fprintf(s.err, "note: the certificate of %s is not signed (issued without a signing key)\n", id)
			}
			if !verify {
				return nil
			}
			return verifyStored(ctx, s, cl.st, id, c, pub, &keys)
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().BoolVar(&verify, "verify", false, "check the signature and the certificate against the audit chain")
	cmd.Flags().StringVar(&publicKeyFile, "public-key", "", "--verify: PEM file of the public key to check the signature with")
	keys.register(cmd)
	cmd.MarkFlagsMutuallyExclusive("public-key", "kms-key-id")
	cmd.MarkFlagsMutuallyExclusive("public-key", "key-dir")
	cmd.AddCommand(newCertificateVerifyCmd(s), newCertificatePublicKeyCmd(s))
	return cmd
}

// verifyStored checks a stored certificate: its signature with pub (nil:
// the key keys picks), then the certificate signed against the audit chain.
func verifyStored(ctx context.Context, s *streams, st *store.Store, id string, c storedCertificate, pub *ecdsa.PublicKey, keys *keySource) error {
	cert, keyID := c.cert, ""
	if c.signed != nil {
		if pub == nil {
			var err error
			if _, pub, err = keys.publicKey(ctx); err != nil {
				return fmt.Errorf("certificate of %s: the signing key's public key: %w", id, err)
			}
		}
		signed, err := certsign.VerifySigned(*c.signed, pub)
		if err != nil {
			return failuref("certificate of %s does not verify: %w", id, err)
		}
		cert, keyID = signed, c.signed.Signature.KeyID
	}
	if cert.Request.ID != id {
		return failuref("certificate of %s does not verify: it certifies request %s", id, cert.Request.ID)
	}
	if err := workflow.VerifyCertificate(ctx, st, cert); err != nil {
		if errors.Is(err, certificate.ErrHead) || errors.Is(err, certificate.ErrDigest) || errors.Is(err, certificate.ErrChainBroken) || errors.Is(err, certificate.ErrWrongRequest) {
			return failuref("certificate of %s does not verify against its audit chain: %w", id, err)
		}
		return err
	}
	if c.signed == nil {
		return failuref("certificate of %s is not signed: its digest and audit chain verify, but nobody can check it without the table", id)
	}
	fp, _ := certsign.Fingerprint(pub) // VerifySigned checked the key
	fmt.Fprintf(s.err, "certificate of %s verified: signature (key %s, public key %s), digest %s, audit chain intact, head event #%d %s\n",
		id, keyID, fp, cert.Digest, cert.AuditHeadSeq, cert.AuditHeadHash)
	return nil
}

// newCertificateVerifyCmd is `dsr certificate verify FILE --public-key PEM`:
// an offline check of a signed certificate file (certificate.Signed) with
// the public key alone. Exit 0 when it verifies, 1 when it does not (the
// message names what failed), 2 when FILE or the key cannot be read or the
// key is not an ECDSA P-256 public key.
func newCertificateVerifyCmd(s *streams) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "verify FILE --public-key PEM",
		Short: "check a signed certificate file with the public key alone (no AWS access)",
		Long: "verify checks a signed deletion certificate (as \"dsr certificate ID\" prints it and the final\n" +
			"confirmation attaches it; FILE - reads stdin) with a PEM public key (\"dsr certificate\n" +
			"public-key\"): the ECDSA_SHA_256 signature over the payload, that the readable certificate,\n" +
			"algorithm and key ID equal the payload's, and the certificate's digest. Nothing else is\n" +
			"needed: no AWS credentials, no table.\n" +
			"\n" +
			"Exit 0 when it verifies; 1, with what failed, when it does not.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			data, err := readLimited(s, name, certificate.MaxSignedBytes)
			if err != nil {
				return usageErrorf("certificate verify: %w", err)
			}
			pub, err := readPublicKey(s, keyFile)
			if err != nil {
				return fmt.Errorf("certificate verify: %w", err)
			}
			c, err := certsign.VerifyKey(data, pub)
			if err != nil {
				return failuref("certificate %s does not verify: %w", name, err)
			}
			fp, _ := certsign.Fingerprint(pub) // parsed and checked above
			_, err = fmt.Fprintf(s.out, "certificate %s verified: request %s (%s), issued %s, digest %s, signed with key %s\n",
				name, c.Request.ID, c.Request.Kind, c.IssuedAt.Format("2006-01-02T15:04:05Z07:00"), c.Digest, fp)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "public-key", "", "PEM file of the signing key's public key (\"dsr certificate public-key\" prints it)")
	_ = cmd.MarkFlagRequired("public-key")
	return cmd
}

// readLimited reads a file ("-": stdin) of at most limit bytes; a longer one
// is read up to limit+1 bytes, for the reader's own size check to refuse.
func readLimited(s *streams, name string, limit int64) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = s.in
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// newCertificatePublicKeyCmd is `dsr certificate public-key [--key-dir DIR |
// --kms-key-id KEY]`: the signing key's public half as PEM on stdout, its
// key ID and fingerprint on stderr.
func newCertificatePublicKeyCmd(s *streams) *cobra.Command {
	var keys keySource
	cmd := &cobra.Command{
		Use:   "public-key [--kms-key-id KEY | --key-dir DIR]",
		Short: "print the certificate signing key's public key (PEM)",
		Long: "public-key prints the public key that checks signed deletion certificates, as a PEM\n" +
			"\"PUBLIC KEY\" block on stdout (its key ID and SHA-256 fingerprint go to stderr):\n" +
			"\n" +
			"  --kms-key-id KEY  the AWS KMS key (its ARN; KMS GetPublicKey, with the usual AWS\n" +
			"                    credentials and region, AWS_ENDPOINT_URL_KMS honoured);\n" +
			"                    default $" + KeyIDVariable + "\n" +
			"  --key-dir DIR     the local stack's key file in DIR (default " + DefaultKeyDir + ", used when\n" +
			"                    neither --kms-key-id nor $" + KeyIDVariable + " is set)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			signer, pub, err := keys.publicKey(ctx)
			if err != nil {
				return fmt.Errorf("certificate public-key: %w", err)
			}
			pemBytes, err := certsign.PublicKeyPEM(pub)
			if err != nil {
				return fmt.Errorf("certificate public-key: %w", err)
			}
			fp, err := certsign.Fingerprint(pub)
			if err != nil {
				return fmt.Errorf("certificate public-key: %w", err)
			}
			if _, err := s.out.Write(pemBytes); err != nil {
				return err
			}
			fmt.Fprintf(s.err, "key %s, fingerprint %s\n", signer.KeyID(), fp)
			return nil
		},
	}
	keys.register(cmd)
	return cmd
}
