package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// newCertificateCmd is `dsr certificate ID [--verify]`.
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
			"exit 1 when it does not verify (or the request has no certificate).",
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
	return cmd
}
