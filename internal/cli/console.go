package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"dsrflow/internal/console"
	"dsrflow/internal/principal"
)

// newConsoleCmd is `dsr console [--addr 127.0.0.1:8090]`: the privacy
// team's console on a loopback address, with the operator's own AWS
// credentials (internal/console).
func newConsoleCmd(s *streams) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "console [--addr 127.0.0.1:8090]",
		Short: "serve the privacy team's console on this machine (loopback only), as your IAM principal",
		Long: "console serves the privacy team's console on a loopback address: the queue of what needs a person,\n" +
			"each request's timeline and actions, triaged mail and the report. It talks to DynamoDB, S3 and\n" +
			"Step Functions with your own AWS credentials; IAM decides what you may do (attach the stack's\n" +
			"OperatorsPolicy, or AuditorsPolicy to only look). Your principal (STS GetCallerIdentity; locally\n" +
			"DSR_LOCAL_PRINCIPAL) is the actor of every action in the audit chain.\n\n" +
			"Configuration is the functions' environment: TABLE_NAME (or DSR_TABLE), STATE_MACHINE_ARN,\n" +
			"SUBJECT_KEY_SECRET_ID (or SUBJECT_KEY_SECRET), JURISDICTION (CN|GDPR|CCPA), MAIL_FROM and SMTP_URL\n" +
			"(SMTP_PASSWORD_SECRET_ID) or OUTBOX_DIR, PARTNERS_CONFIG with PARTNER_SECRETS_ID, PUBLIC_BASE_URL;\n" +
			"SECRETS_DIR reads the secrets from files (the local stack). The stack's outputs name the secrets.\n" +
			"A non-loopback --addr is refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := console.LoopbackAddr(addr); err != nil {
				return usageErrorf("%v", err)
			}
			env, err := console.LoadEnv(nil)
			if err != nil {
				return usageErrorf("%v", err)
			}
			ctx := cmd.Context()
			awsCfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return fmt.Errorf("load AWS configuration: %w", err)
			}
			p, err := principal.Resolve(ctx, awsCfg, nil)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: slog.LevelInfo}))
			h, err := console.FromEnv(ctx, env, awsCfg, p, logger)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			fmt.Fprintf(s.out, "dsr console: http://%s/ (as %s)\n", ln.Addr(), p.ARN)
			return serve(ctx, ln, h)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "loopback host:port to listen on")
	return cmd
}

// serve serves h on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return err
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
