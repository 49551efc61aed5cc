package cli

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"dsrflow/internal/mail"
)

// newMailCmd groups the privacy-mailbox commands.
func newMailCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "privacy mailbox: see how raw messages are classified",
	}
	cmd.AddCommand(newMailClassifyCmd(s))
	return cmd
}

// newMailClassifyCmd prints the classification of one raw message as JSON.
func newMailClassifyCmd(s *streams) *cobra.Command {
	var trusted []string
	cmd := &cobra.Command{
		Use:   "classify FILE.eml",
		Short: "print how the mailbox would route a raw RFC 5322 message, and why (JSON)",
		Long: `classify parses FILE.eml as the mailbox function does and prints one JSON
object: action (request|ignore|triage|reject|follow_up), kind, ignore_reason,
from, language (zh|en), requester_role, has_attachments, reason, message_id,
kinds, problems, thread_request_id (for a reply in one of our threads; left
out when none) and hints: what the sender typed that the identity step may use,
unverified (accountIds, phones, emails, corrections, consentPurposes; each
left out when empty). It exits 0 for any file it could read, even broken MIME
(which is classified as triage), and 2 when the file cannot be read. The output
contains the sender's address and the hints, which are personal data: do not
paste it into logs or tickets.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return usageErrorf("read message: %w", err)
			}
			// A ParseError is not a failure here: the message is classified
			// as triage "unparseable" and the problems are in the output.
			msg, _ := mail.Parse(raw)
			c := mail.Classify(msg, mail.VerdictsFromHeaders(msg, trusted...))
			enc := json.NewEncoder(s.out)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(c)
		},
	}
	cmd.Flags().StringSliceVar(&trusted, "trusted-authserv-id", nil,
		"authserv-ids whose Authentication-Results are trusted (e.g. amazonses.com); default: all")
	return cmd
}
