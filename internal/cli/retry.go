package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// retryOutput is `dsr retry --json`.
type retryOutput struct {
	RequestID string                 `json:"requestId"`
	Partners  []workflow.RetryResult `json:"partners,omitempty"`
	// Backups lists the backup systems that confirmed (an escalated
	// backup confirmation retried).
	Backups *partner.ConfirmOutput `json:"backups,omitempty"`
	// StillFailing lists partners or backup systems that did not succeed.
	StillFailing []string `json:"stillFailing,omitempty"`
}

// operations builds the operator's partner and backup operations over the
// partner configuration (--partners, default $PARTNERS_CONFIG) and, for
// access and portability requests, the export bucket.
func (c *requestClients) operations(s *streams, pc *partner.Config, exportBucket string) *workflow.Operations {
	// Partner secrets: keys of the stack's partner secret (PARTNER_SECRETS_ID,
	// from Secrets Manager, or the local stack's SECRETS_DIR), or variables.
	secrets := partner.NewSecrets(map[string]partner.SecretResolver{
		partner.SecretStoreScheme: partner.SecretStore{Getter: secretstore.Open(c.aws, os.Getenv("SECRETS_DIR")), Default: os.Getenv("PARTNER_SECRETS_ID")},
	})
	deps := partner.DispatcherDeps{Store: c.st, Secrets: secrets, Client: &partner.Client{}, SFN: c.sfn,
		Logger: slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if exportBucket == "" {
		exportBucket = os.Getenv("EXPORT_BUCKET")
	}
	if exportBucket != "" {
		deps.Exports = exportStore(c.aws, exportBucket)
	}
	d := partner.NewDispatcher(partner.DispatcherConfig{Partners: pc, CallbackBaseURL: os.Getenv("PUBLIC_BASE_URL")}, deps)
	return workflow.NewOperations(workflow.OperationsDeps{Store: c.st, Partners: d, SFN: c.sfn})
}

// loadPartners reads --partners (default $PARTNERS_CONFIG); a bad file is a
// usage error.
func loadPartners(file string) (*partner.Config, string, error) {
	if file == "" {
		file = os.Getenv("PARTNERS_CONFIG")
	}
	if file == "" {
		return nil, "", usageErrorf("no partner configuration: pass --partners or set PARTNERS_CONFIG")
	}
	pc, err := partner.LoadConfig(file)
	if err != nil {
		return nil, "", usageErrorf("%v", err)
	}
	return pc, file, nil
}

// newRetryCmd is `dsr retry ID [--partner P]`.
func newRetryCmd(s *streams) *cobra.Command {
	var table, partnersFile, partnerID, exportBucket string
	var asJSON bool
	var attempts int
	cmd := &cobra.Command{
		Use:   "retry ID [--partner P]",
		Short: "dispatch a request again to a failed or escalated partner, or retry its escalated backup confirmation",
		Long: "retry dispatches request ID again to partner P (--partner), or to every partner whose task\n" +
			"failed or was escalated, with exponential backoff and full jitter (--attempts calls at most).\n" +
			"A partner that already completed is not sent anything again. The workflow went on without a\n" +
			"failed partner; its new outcome is recorded on its task and in the audit trail, and a reply\n" +
			"waiting for it goes on once the last partner settles.\n" +
			"\n" +
			"Without --partner, a request escalated because its backups did not confirm in time is asked\n" +
			"again; once every backup system confirms, the request goes back to awaiting_backup_rotation\n" +
			"and the waiting workflow goes on to close it (certificate, final confirmation).\n" +
			"\n" +
			"The retry is recorded in the audit trail under the caller's IAM principal (STS\n" +
			"GetCallerIdentity; on the local stack, DSR_LOCAL_PRINCIPAL).\n" +
			"\n" +
			"Exit 0 when everything retried succeeded (or a callback is awaited), 1 when something still\n" +
			"fails or there is nothing to retry, 2 for bad arguments, 3 when AWS or the configuration fails.\n" +
			"The partner configuration is --partners (default $PARTNERS_CONFIG); secrets are read as the\n" +
			"configuration references them: secretsmanager:#KEY, a key of the secret $PARTNER_SECRETS_ID\n" +
			"names (the stack's PartnerSecrets; $SECRETS_DIR on the local stack), or env: variables.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			if err := checkOperatorFlag(cmd); err != nil {
				return err
			}
			if attempts < 1 {
				return usageErrorf("--attempts must be at least 1")
			}
			pc, file, err := loadPartners(partnersFile)
			if err != nil {
				return err
			}
			if partnerID != "" {
				if _, ok := pc.Partner(partnerID); !ok {
					return usageErrorf("unknown partner %q in %s", partnerID, file)
				}
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			if _, err := getRequest(ctx, cl.st, cl.table, id); err != nil {
				return err
			}
			actor, err := cl.actor(ctx)
			if err != nil {
				return err
			}
			ops := cl.operations(s, pc, exportBucket)
			out := retryOutput{RequestID: id}
			escalated := false
			if partnerID == "" {
				if escalated, err = ops.BackupsEscalated(ctx, id); err != nil {
					return err
				}
			}
			if escalated {
				res, err := ops.RetryBackups(ctx, id, actor)
				var not *partner.BackupsNotYetRotated
				switch {
				case errors.As(err, &not):
					out.StillFailing = not.Partners
				case errors.Is(err, workflow.ErrWorkflowGone):
					out.Backups = &res
					printRetry(s, out, asJSON)
					return failuref("%v (the reconciler restarts it)", err)
				case err != nil:
					return err
				default:
					out.Backups = &res
				}
			} else {
				res, err := ops.RetryPartners(ctx, id, partnerID, actor, partner.Backoff{Attempts: attempts})
				switch {
				case errors.Is(err, workflow.ErrNothingToRetry):
					return failuref("request %s: no failed or escalated partner, no escalated backup confirmation", id)
				case errors.Is(err, workflow.ErrUnknownPartner):
					return failuref("request %s has no task for partner %s (its kind does not concern it)", id, partnerID)
				case err != nil:
					return err
				}
				out.Partners = res
				for _, r := range res {
					if r.Status != store.PartnerCompleted && r.Status != store.PartnerAwaitingCallback && r.Status != store.PartnerNoData {
						out.StillFailing = append(out.StillFailing, r.PartnerID)
					}
				}
			}
			printRetry(s, out, asJSON)
			if len(out.StillFailing) > 0 {
				return failuref("request %s: still failing: %v", id, out.StillFailing)
			}
			return nil
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&partnerID, "partner", "", "retry only this partner (its ID in the partner configuration)")
	cmd.Flags().StringVar(&partnersFile, "partners", "", "partner configuration file (default $PARTNERS_CONFIG)")
	cmd.Flags().StringVar(&exportBucket, "export-bucket", "", "bucket for partner exports of access and portability requests (default $EXPORT_BUCKET)")
	cmd.Flags().IntVar(&attempts, "attempts", 5, "calls per partner at most (backoff with full jitter between them)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	operatorFlagGone(cmd)
	return cmd
}

func settlementCodes() string {
	var out []string
	for _, x := range workflow.Settlements() {
		out = append(out, string(x))
	}
	return strings.Join(out, ", ")
}

// newSettleCmd is `dsr settle ID --partner P --settlement CODE`.
func newSettleCmd(s *streams) *cobra.Command {
	var table, partnersFile, partnerID, settlement string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "settle ID --partner P --settlement CODE",
		Short: "record how a failed or escalated partner was settled outside the protocol",
		Long: "settle records an operator's settlement of request ID's failed or escalated partner P, when\n" +
			"retrying cannot help: --settlement is one of " + settlementCodes() + ".\n" +
			"The requester's reply says it in their language. When P was the last partner the reply waited\n" +
			"for, the waiting workflow goes on. The settlement is recorded on the partner's task and in the\n" +
			"audit trail under the caller's IAM principal (STS GetCallerIdentity; on the local stack,\n" +
			"DSR_LOCAL_PRINCIPAL).\n" +
			"\n" +
			"Exit 0 when recorded, 1 when the partner is not failed or escalated (or the request has no task\n" +
			"for it), 2 for bad arguments, 3 when AWS or the configuration fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			how := workflow.PartnerSettlement(settlement)
			if !how.Valid() {
				return usageErrorf("settle: unknown --settlement %q; use one of: %s", settlement, settlementCodes())
			}
			pc, _, err := loadPartners(partnersFile)
			if err != nil {
				return err
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			if _, err := getRequest(ctx, cl.st, cl.table, id); err != nil {
				return err
			}
			actor, err := cl.actor(ctx)
			if err != nil {
				return err
			}
			ops := cl.operations(s, pc, "")
			t, err := ops.SettlePartner(ctx, id, partnerID, how, actor)
			switch {
			case errors.Is(err, workflow.ErrUnknownPartner):
				return failuref("request %s has no task for partner %s", id, partnerID)
			case errors.Is(err, workflow.ErrNotEscalated):
				return failuref("%v: retry it (dsr retry) or wait", err)
			case err != nil && t == nil:
				return err
			case err != nil:
				// Recorded; the waiting reply could not be resumed: the
				// reconciler or the next settlement resumes it.
				return fmt.Errorf("partner %s of %s settled, but: %w", partnerID, id, err)
			}
			out := settleOutput{RequestID: id, PartnerID: t.PartnerID, Status: t.Status, Settlement: how, By: actor}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			_, err = fmt.Fprintf(s.out, "partner %s of %s: %s (%s) by %s\n", out.PartnerID, id, out.Status, how, actor)
			return err
		},
	}
	tableFlag(cmd, &table)
	cmd.Flags().StringVar(&partnerID, "partner", "", "the partner settled (its ID in the partner configuration)")
	cmd.Flags().StringVar(&settlement, "settlement", "", "how it was settled: "+settlementCodes())
	cmd.Flags().StringVar(&partnersFile, "partners", "", "partner configuration file (default $PARTNERS_CONFIG)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("partner")
	_ = cmd.MarkFlagRequired("settlement")
	return cmd
}

// settleOutput is `dsr settle --json`.
type settleOutput struct {
	RequestID  string                     `json:"requestId"`
	PartnerID  string                     `json:"partnerId"`
	Status     store.PartnerStatus        `json:"status"`
	Settlement workflow.PartnerSettlement `json:"settlement"`
	By         string                     `json:"by"`
}

func exportStore(cfg aws.Config, bucket string) *export.Store {
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = os.Getenv("S3_USE_PATH_STYLE") == "true" })
	return &export.Store{Objects: s3bucket.New(c, bucket), SSE: export.SSEKMS, KMSKeyID: os.Getenv("EXPORT_KMS_KEY_ID"), LinkTTL: export.DefaultLinkTTL}
}

func printRetry(s *streams, o retryOutput, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(o)
		return
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	if o.Partners != nil {
		fmt.Fprintln(w, "PARTNER\tACTION\tBEFORE\tNOW\tRECEIPT\tERROR")
		for _, r := range o.Partners {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.PartnerID, r.Action, r.Before, r.Status, dash(r.Receipt), dash(r.Error))
		}
	}
	if o.Backups != nil {
		fmt.Fprintf(w, "backups confirmed\t%v\n", o.Backups.Confirmed)
		fmt.Fprintf(w, "request\t%s back to awaiting_backup_rotation; the workflow closes it\n", o.RequestID)
	} else if o.Partners == nil {
		fmt.Fprintf(w, "backups not yet rotated\t%v\n", o.StillFailing)
	}
	w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
