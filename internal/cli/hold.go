package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/phone"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/workday"
)

// holdNoteMax bounds --note: a case reference, not a story.
const holdNoteMax = 200

// holdKeyShown is how much of a subject key the table shows.
const holdKeyShown = 12

// holdSubject is the subject of `dsr hold add|remove`: exactly one of the
// identifier flags.
type holdSubject struct {
	email, phone, account string
	cmd                   *cobra.Command
}

func (h *holdSubject) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.email, "subject-email", "", "the subject's email address")
	cmd.Flags().StringVar(&h.phone, "subject-phone", "", "the subject's phone number (mainland China without a country code)")
	cmd.Flags().StringVar(&h.account, "subject-account", "", "the subject's account ID")
	h.cmd = cmd
}

// key normalizes the identifier and returns its type and subject key. The
// errors never repeat the identifier.
func (h *holdSubject) key(ctx context.Context) (dsr.IdentifierType, string, error) {
	var t dsr.IdentifierType
	var raw, flag string
	set := 0
	for _, f := range []struct {
		name string
		t    dsr.IdentifierType
		v    string
	}{
		{"subject-email", dsr.IdentifierEmail, h.email},
		{"subject-phone", dsr.IdentifierPhone, h.phone},
		{"subject-account", dsr.IdentifierAccount, h.account},
	} {
		if h.cmd.Flags().Changed(f.name) {
			set++
			t, raw, flag = f.t, f.v, "--"+f.name
		}
	}
	if set != 1 {
		return "", "", usageErrorf("hold: name the subject with exactly one of --subject-email, --subject-phone, --subject-account")
	}
	secret, err := holdSecret(ctx)
	if err != nil {
		return "", "", err
	}
	normalized, err := dsr.ParseIdentifier(t, raw, phone.Parse)
	if err != nil {
		// dsr's parse errors never contain the value parsed.
		return "", "", usageErrorf("hold: %s: %v", flag, err)
	}
	return t, dsr.SubjectKey(secret, t, normalized), nil
}

// holdSecret reads the HMAC key the functions compute subject keys with (a
// hold keyed with another secret would match nobody): the secret
// SUBJECT_KEY_SECRET_ID names (the stack's SubjectKeySecret, from Secrets
// Manager; from $SECRETS_DIR on the local stack), or SUBJECT_KEY_SECRET's
// value.
func holdSecret(ctx context.Context) ([]byte, error) {
	if id := os.Getenv("SUBJECT_KEY_SECRET_ID"); id != "" && os.Getenv("SUBJECT_KEY_SECRET") == "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("hold: load AWS configuration: %w", err)
		}
		v, err := secretstore.Read(ctx, secretstore.Open(cfg, os.Getenv("SECRETS_DIR")), "SUBJECT_KEY_SECRET_ID", id, dsr.MinSubjectSecretLen)
		if err != nil {
			return nil, fmt.Errorf("hold: %w", err)
		}
		return v, nil
	}
	v, ok := os.LookupEnv("SUBJECT_KEY_SECRET")
	if !ok || v == "" {
		return nil, usageErrorf("hold: neither SUBJECT_KEY_SECRET_ID (the stack's SubjectKeySecret) nor SUBJECT_KEY_SECRET is set: the subject key is the HMAC of the identifier under the secret the functions use")
	}
	if len(v) < dsr.MinSubjectSecretLen {
		return nil, usageErrorf("hold: SUBJECT_KEY_SECRET is %d bytes, want at least %d (the secret the functions use)", len(v), dsr.MinSubjectSecretLen)
	}
	return []byte(v), nil
}

// holdReasonCodes lists the reasons a hold may give.
func holdReasonCodes() string {
	var out []string
	for _, r := range legalhold.Reasons() {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// parseHoldAction reads --action: refuse, or defer (defer_erasure).
func parseHoldAction(v string) (legalhold.Action, error) {
	switch v {
	case "refuse":
		return legalhold.ActionRefuse, nil
	case "defer", string(legalhold.ActionDeferErasure):
		return legalhold.ActionDeferErasure, nil
	}
	return "", usageErrorf("hold add: unknown --action %q; use refuse or defer", v)
}

// checkHoldNote rejects a note that is too long or looks like it holds an
// email address or a phone number: notes are case references, and the hold
// list must stay free of personal data. The error does not repeat the note.
func checkHoldNote(note string) error {
	if n := utf8.RuneCountInString(note); n > holdNoteMax {
		return usageErrorf("hold add: --note is %d characters, want at most %d (a case reference)", n, holdNoteMax)
	}
	for _, f := range strings.FieldsFunc(note, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:<>\"'()[]{}，；：（）「」", r)
	}) {
		if strings.Contains(f, "@") {
			if _, err := dsr.ParseEmail(strings.Trim(f, ".")); err == nil {
				return usageErrorf("hold add: --note looks like it holds an email address; write a case reference, no personal data")
			}
		}
	}
	// Phone numbers are often written with spaces or dashes: look at runs of
	// digits and phone punctuation.
	var run strings.Builder
	flush := func() error {
		s := run.String()
		run.Reset()
		digits := 0
		for _, r := range s {
			if unicode.IsDigit(r) {
				digits++
			}
		}
		if digits >= 7 {
			if _, err := phone.Parse(strings.TrimSpace(s)); err == nil {
				return usageErrorf("hold add: --note looks like it holds a phone number; write a case reference, no personal data")
			}
		}
		return nil
	}
	for _, r := range note + "\n" {
		if unicode.IsDigit(r) || strings.ContainsRune("+- ", r) {
			run.WriteRune(r)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// holdView is a hold as `dsr hold` prints it (--json): the subject key in
// full (a keyed hash, not an identifier), never the identifier.
type holdView struct {
	SubjectKey string            `json:"subjectKey"`
	Action     legalhold.Action  `json:"action"`
	Reason     dsr.RefusalReason `json:"reason"`
	Note       string            `json:"note,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	CreatedBy  string            `json:"createdBy"`
}

func viewOf(h legalhold.Hold) holdView {
	return holdView{SubjectKey: h.SubjectKey, Action: h.Action, Reason: h.Reason, Note: h.Reference, CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy}
}

// holdChange is what `dsr hold add|remove --json` prints.
type holdChange struct {
	// Result is added, replaced or removed.
	Result string    `json:"result"`
	Hold   holdView  `json:"hold"`
	Was    *holdView `json:"was,omitempty"`
	// By is who made the change: the caller's principal as an actor.
	By string `json:"by"`
}

func shortKey(k string) string {
	if len(k) <= holdKeyShown {
		return k
	}
	return k[:holdKeyShown] + "…"
}

func newHoldCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hold",
		Short: "manage legal holds: subjects whose requests are refused or whose erasure is deferred",
		Long: "A legal hold keeps a subject's data (an investigation, a court order, a statutory duty;\n" +
			"policy 五.1/五.2). The workflow's review refuses every request about a subject on hold with\n" +
			"--action refuse; with --action defer, requests are answered but erasure is postponed. The\n" +
			"requester is told the reason either way (PIPL art. 50).\n" +
			"\n" +
			"Holds are keyed by the subject key, the HMAC of the normalized identifier with the functions'\n" +
			"secret: the one $SUBJECT_KEY_SECRET_ID names (the stack's SubjectKeySecret, read from Secrets\n" +
			"Manager, or from $SECRETS_DIR on the local stack), or $SUBJECT_KEY_SECRET. No identifier is\n" +
			"stored or printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("hold: missing subcommand: want \"dsr hold add|remove|list\"")
		},
	}
	cmd.AddCommand(newHoldAddCmd(s), newHoldRemoveCmd(s), newHoldListCmd(s))
	return cmd
}

func newHoldAddCmd(s *streams) *cobra.Command {
	var subj holdSubject
	var table, reason, action, note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add --subject-email E | --subject-phone P | --subject-account A --reason CODE [--action refuse|defer] [--note TEXT]",
		Short: "put a subject on legal hold (or change its hold)",
		Long: "add puts the subject on hold, or replaces its hold. --reason is told to the requester: one of\n" +
			holdReasonCodes() + ".\n" +
			"--action refuse refuses every request about the subject; defer (the default) answers requests\n" +
			"but defers erasure while the hold lasts. --note is a case reference (no personal data: a note\n" +
			"that looks like an email address or phone number is refused).\n" +
			"\n" +
			"The identifier is normalized (dsr.ParseEmail, phone.Parse, dsr.ParseAccountID) and hashed with\n" +
			"the subject key secret (see dsr hold); it is never stored or printed. The hold records the caller's IAM principal\n" +
			"(STS GetCallerIdentity; on the local stack, DSR_LOCAL_PRINCIPAL) as who placed it. The workflow\n" +
			"reads holds when it reviews a request (refuse) and when it plans the partners and replies\n" +
			"(defer); requests already past those steps are not changed. Exit 0 on success, 2 for bad\n" +
			"flags or a missing secret, 3 when AWS fails.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := checkOperatorFlag(cmd); err != nil {
				return err
			}
			if reason == "" {
				return usageErrorf("hold add: --reason CODE is required, one of: %s", holdReasonCodes())
			}
			r := dsr.RefusalReason(reason)
			if !legalhold.ReasonFits(r) {
				return usageErrorf("hold add: reason %q does not fit a legal hold; use one of: %s", reason, holdReasonCodes())
			}
			act, err := parseHoldAction(action)
			if err != nil {
				return err
			}
			if err := checkHoldNote(note); err != nil {
				return err
			}
			_, key, err := subj.key(ctx)
			if err != nil {
				return err
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			p, err := cl.operatorPrincipal(ctx)
			if err != nil {
				return err
			}
			list := legalhold.New(cl.st)
			was, err := list.Find(ctx, []string{key})
			if err != nil {
				return fmt.Errorf("hold add: look up the current hold: %w", err)
			}
			h := legalhold.Hold{SubjectKey: key, Action: act, Reason: r, Reference: note, CreatedAt: cl.st.Now(), CreatedBy: p.Actor()}
			if err := list.Put(ctx, h); err != nil {
				return fmt.Errorf("hold add: %w", err)
			}
			out := holdChange{Result: "added", Hold: viewOf(h), By: p.Actor()}
			if was != nil {
				v := viewOf(*was)
				out.Result, out.Was = "replaced", &v
			}
			return printHoldChange(s, out, asJSON)
		},
	}
	subj.register(cmd)
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&reason, "reason", "", "reason code told to the requester: "+holdReasonCodes())
	cmd.Flags().StringVar(&action, "action", "defer", "refuse (every request) or defer (erasure only)")
	cmd.Flags().StringVar(&note, "note", "", "case reference (no personal data)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	operatorFlagGone(cmd)
	return cmd
}

func newHoldRemoveCmd(s *streams) *cobra.Command {
	var subj holdSubject
	var table string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remove --subject-email E | --subject-phone P | --subject-account A",
		Short: "lift a subject's legal hold",
		Long: "remove lifts the subject's hold. Requests refused under it stay refused; deferred erasures\n" +
			"are not restarted by this command. It needs the caller's IAM principal (STS\n" +
			"GetCallerIdentity; on the local stack, DSR_LOCAL_PRINCIPAL) and prints it. Exit 0 when a hold\n" +
			"was lifted, 1 when the subject had none, 2 for bad flags or a missing secret, 3 when AWS fails.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, key, err := subj.key(ctx)
			if err != nil {
				return err
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			p, err := cl.operatorPrincipal(ctx)
			if err != nil {
				return err
			}
			was, err := legalhold.New(cl.st).Lift(ctx, key)
			if err != nil {
				return fmt.Errorf("hold remove: %w", err)
			}
			if was == nil {
				return failuref("hold remove: no hold on subject %s in table %s", shortKey(key), cl.table)
			}
			return printHoldChange(s, holdChange{Result: "removed", Hold: viewOf(*was), By: p.Actor()}, asJSON)
		},
	}
	subj.register(cmd)
	tableFlag(cmd, &table)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newHoldListCmd(s *streams) *cobra.Command {
	var table string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "list legal holds (subject keys, never identifiers)",
		Long: "list prints every hold, oldest first: SUBJECT (the subject key, shortened), ACTION, REASON,\n" +
			"NOTE, CREATED (China time) and BY. --json prints an array of {subjectKey, action, reason, note,\n" +
			"createdAt, createdBy} with the full subject key.\n" +
			"\n" +
			"Holds are read through their own index (GSI2, partition HOLDS): no scan. Exit 0 on success,\n" +
			"3 when DynamoDB fails.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			holds, err := legalhold.New(cl.st).All(ctx)
			if err != nil {
				return fmt.Errorf("hold list: %w", err)
			}
			views := make([]holdView, 0, len(holds))
			for _, h := range holds {
				views = append(views, viewOf(h))
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(views)
			}
			if len(views) == 0 {
				fmt.Fprintln(s.out, "no legal holds")
				return nil
			}
			return writeAligned(s.out, func(w io.Writer) {
				fmt.Fprintln(w, "SUBJECT\tACTION\tREASON\tNOTE\tCREATED\tBY")
				for _, v := range views {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", shortKey(v.SubjectKey), v.Action, v.Reason, cmp.Or(v.Note, "-"),
						v.CreatedAt.In(workday.ChinaTime).Format("2006-01-02 15:04"), v.CreatedBy)
				}
			})
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printHoldChange(s *streams, c holdChange, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	h := c.Hold
	fmt.Fprintf(s.out, "hold %s: subject %s, action %s, reason %s", c.Result, shortKey(h.SubjectKey), h.Action, h.Reason)
	if c.Was != nil {
		fmt.Fprintf(s.out, " (was %s, %s)", c.Was.Action, c.Was.Reason)
	}
	fmt.Fprintf(s.out, "; by %s\n", c.By)
	return nil
}
