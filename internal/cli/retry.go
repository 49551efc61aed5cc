package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/s3bucket"
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

// newRetryCmd is `dsr retry ID [--partner P]`.
func newRetryCmd(s *streams) *cobra.Command {
	var table, partnersFile, partnerID, exportBucket, actor string
	var asJSON bool
	var attempts int
	cmd := &cobra.Command{
		Use:   "retry ID [--partner P]",
		Short: "dispatch a request again to a failed or escalated partner, or retry its escalated backup confirmation",
		Long: "retry dispatches request ID again to partner P (--partner), or to every partner whose task\n" +
			"failed or was escalated, with exponential backoff and full jitter (--attempts calls at most).\n" +
			"A partner that already completed is not sent anything again. The workflow went on without a\n" +
			"failed partner; its new outcome is recorded on its task and in the audit trail, and an erasure\n" +
			"still waiting for backup rotation includes it in the backup confirmation and the certificate.\n" +
			"\n" +
			"Without --partner, a request escalated because its backups did not confirm in time is asked\n" +
			"again; once every backup system confirms, the request goes back to awaiting_backup_rotation\n" +
			"and the waiting workflow goes on to close it (certificate, final confirmation).\n" +
			"\n" +
			"Exit 0 when everything retried succeeded (or a callback is awaited), 1 when something still\n" +
			"fails or there is nothing to retry, 2 for bad arguments, 3 when AWS or the configuration fails.\n" +
			"The partner configuration is --partners (default $PARTNERS_CONFIG); secrets are read as the\n" +
			"configuration references them (env: variables).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			if partnersFile == "" {
				partnersFile = os.Getenv("PARTNERS_CONFIG")
			}
			if partnersFile == "" {
				return usageErrorf("no partner configuration: pass --partners or set PARTNERS_CONFIG")
			}
			if attempts < 1 {
				return usageErrorf("--attempts must be at least 1")
			}
			pc, err := partner.LoadConfig(partnersFile)
			if err != nil {
				return usageErrorf("%v", err)
			}
			if partnerID != "" {
				if _, ok := pc.Partner(partnerID); !ok {
					return usageErrorf("unknown partner %q in %s", partnerID, partnersFile)
				}
			}
			if actor == "" {
				actor = os.Getenv("USER")
			}
			cl, err := newRequestClients(ctx, table)
			if err != nil {
				return err
			}
			st := store.New(cl.db, cl.table)
			if _, err := getRequest(ctx, st, cl.table, id); err != nil {
				return err
			}
			d := &partner.Dispatcher{Store: st, Config: pc, Secrets: partner.NewSecrets(nil), Client: &partner.Client{}, SFN: cl.sfn, CallbackBaseURL: os.Getenv("PUBLIC_BASE_URL"),
				Log: slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			if exportBucket == "" {
				exportBucket = os.Getenv("EXPORT_BUCKET")
			}
			if exportBucket != "" {
				ex, err := exportStore(ctx, exportBucket)
				if err != nil {
					return err
				}
				d.Exports = ex
			}
			rt := &workflow.Retrier{Partners: d, Store: st, DB: cl.db, Table: cl.table, SFN: cl.sfn, Actor: "operator:" + actor,
				Backoff: partner.Backoff{Attempts: attempts}}
			out := retryOutput{RequestID: id}
			escalated := false
			if partnerID == "" {
				if escalated, err = rt.BackupsEscalated(ctx, id); err != nil {
					return err
				}
			}
			if escalated {
				res, err := rt.RetryBackups(ctx, id)
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
				res, err := rt.RetryPartners(ctx, id, partnerID)
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
	cmd.Flags().StringVar(&actor, "operator", "", "operator ID for the audit trail (default $USER)")
	cmd.Flags().IntVar(&attempts, "attempts", 5, "calls per partner at most (backoff with full jitter between them)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func exportStore(ctx context.Context, bucket string) (*export.Store, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = os.Getenv("S3_USE_PATH_STYLE") == "true" })
	return &export.Store{Objects: s3bucket.New(c, bucket), SSE: export.SSEKMS, KMSKeyID: os.Getenv("EXPORT_KMS_KEY_ID"), LinkTTL: 72 * time.Hour}, nil
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
