package cli

import (
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

// maxPublicKeyFile bounds --public-key.
const maxPublicKeyFile = 16 << 10

// newCertificateCmd is `dsr certificate ID [--verify]`, with the
// subcommands `verify FILE --public-key PEM` and `public-key`.
func newCertificateCmd(s *streams) *cobra.Command {
	var table string
	var verify bool
	cmd := &cobra.Command{
		Use:   "certificate ID [--verify]",
		Short: "print a request's deletion certificate (JSON); --verify checks it against the audit chain",
		Long: "certificate prints the deletion certificate of an erasure or account closure as JSON: the\n" +
			"request (IDs, kind, dates), each partner's receipt, each backup system's confirmation, and the\n" +
			"head of the request's audit chain when it was issued, with a digest over all of it.\n" +
			"\n" +
			"--verify also checks it: the digest, the audit chain's integrity, the chain event the\n" +
			"certificate quotes, and the chain's record of its issuance. The result goes to stderr;\n" +
			"exit 1 when it does not verify (or the request has no certificate).\n" +
			"\n" +
			"A signed certificate file (the final confirmation's attachment) is checked with the public\n" +
			"key alone by \"dsr certificate verify FILE --public-key PEM\"; \"dsr certificate public-key\"\n" +
			"prints that key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			st := store.New(cl.db, cl.table)
			if _, err := getRequest(ctx, st, cl.table, id); err != nil {
				return err
			}
			c, err := workflow.LoadCertificate(ctx, cl.db, cl.table, id)
			if errors.Is(err, workflow.ErrNoCertificate) {
				return failuref("request %s has no deletion certificate (only a completed erasure or account closure has one)", id)
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(s.out)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c); err != nil {
				return err
			}
			if !verify {
				return nil
			}
			if err := workflow.VerifyCertificate(ctx, st, cl.db, cl.table, c); err != nil {
				return failuref("certificate of %s does not verify: %v", id, err)
			}
			fmt.Fprintf(s.err, "certificate of %s verified: digest, audit chain intact, head event #%d %s\n", id, c.AuditHeadSeq, c.AuditHeadHash)
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().BoolVar(&verify, "verify", false, "check the certificate against the audit chain")
	cmd.AddCommand(newCertificateVerifyCmd(s), newCertificatePublicKeyCmd(s))
	return cmd
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
			pemBytes, err := readLimited(s, keyFile, maxPublicKeyFile)
			if err != nil {
				return usageErrorf("certificate verify: --public-key: %w", err)
			}
			pub, err := certsign.ParsePublicKeyPEM(pemBytes)
			if err != nil {
				return usageErrorf("certificate verify: --public-key %s: %w", keyFile, err)
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
	var keyDir, kmsKeyID string
	cmd := &cobra.Command{
		Use:   "public-key [--key-dir DIR | --kms-key-id KEY]",
		Short: "print the certificate signing key's public key (PEM)",
		Long: "public-key prints the public key that checks signed deletion certificates, as a PEM\n" +
			"\"PUBLIC KEY\" block on stdout (its key ID and SHA-256 fingerprint go to stderr):\n" +
			"\n" +
			"  --kms-key-id KEY  the AWS KMS key (its ARN; KMS GetPublicKey, with the usual AWS\n" +
			"                    credentials and region, AWS_ENDPOINT_URL_KMS honoured)\n" +
			"  --key-dir DIR     the local stack's key file in DIR (default " + DefaultKeyDir + ")",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var signer certsign.Signer
			if kmsKeyID != "" {
				cfg, err := config.LoadDefaultConfig(ctx)
				if err != nil {
					return fmt.Errorf("load AWS configuration: %w", err)
				}
				k, err := certsign.NewKMS(kms.NewFromConfig(cfg), kmsKeyID)
				if err != nil {
					return usageErrorf("certificate public-key: --kms-key-id: %w", err)
				}
				signer = k
			} else {
				l, err := certsign.LoadLocal(keyDir)
				if errors.Is(err, certsign.ErrNoLocalKey) {
					return failuref("certificate public-key: %w (the local stack creates it on first use; for AWS pass --kms-key-id)", err)
				}
				if err != nil {
					return failuref("certificate public-key: %w", err)
				}
				signer = l
			}
			pub, err := signer.PublicKey(ctx)
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
	f := cmd.Flags()
	f.StringVar(&keyDir, "key-dir", DefaultKeyDir, "directory of the local signing key ("+certsign.LocalKeyFile+")")
	f.StringVar(&kmsKeyID, "kms-key-id", "", "AWS KMS key ARN (ECC_NIST_P256, SIGN_VERIFY)")
	cmd.MarkFlagsMutuallyExclusive("key-dir", "kms-key-id")
	return cmd
}
