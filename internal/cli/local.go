package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/localstack"
)

// localFlags are the flags of dsr local and dsr local load.
type localFlags struct {
	opts     localstack.Options
	logFile  string
	logLevel string
}

func (f *localFlags) register(cmd *cobra.Command, httpDefault string) {
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Dir, "dir", ".local", "folder for data, mail drop, outbox, secrets and logs")
	fl.StringVar(&f.opts.HTTPAddr, "http", httpDefault, "address of the privacy center and HTTP API (port 0: any free port)")
	fl.StringVar(&f.opts.DynamoDBAddr, "dynamodb", "127.0.0.1:8000", "address of DynamoDB (dynalite)")
	fl.StringVar(&f.opts.S3Addr, "s3", "127.0.0.1:9000", "address of the S3 emulator")
	fl.StringVar(&f.opts.SFNAddr, "sfn", "127.0.0.1:8083", "address of the Step Functions API")
	fl.StringVar(&f.opts.PartnersAddr, "partners", "127.0.0.1:8084", "address of the simulated partners")
	fl.Float64Var(&f.opts.ClockScale, "clock-scale", localstack.DefaultClockScale, "workflow seconds per real second (86400: a day per second)")
	fl.DurationVar(&f.opts.Partners.Latency, "partner-latency", 0, "delay of every simulated partner answer")
	fl.Float64Var(&f.opts.Partners.FailureRate, "partner-failure-rate", 0, "fraction of partner calls answered 503 (0 <= rate < 1)")
	fl.StringVar(&f.opts.Partners.Mode, "partner-mode", "mixed", "simulated partners answer sync, async, or mixed (as configured)")
	fl.StringVar(&f.logFile, "log", "", "log file (default <dir>/stack.log; - for stderr)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

// logger opens the stack's log; close it when done.
func (f *localFlags) logger(s *streams) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, nil, usageErrorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	if f.logFile == "-" {
		return slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level})), func() {}, nil
	}
	path := f.logFile
	if path == "" {
		path = filepath.Join(f.opts.Dir, "stack.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewJSONHandler(file, &slog.HandlerOptions{Level: level})), func() { file.Close() }, nil
}

func newLocalCmd(s *streams) *cobra.Command {
	var f localFlags
	cmd := &cobra.Command{
		Use:   "local",
		Short: "run the whole system on this machine (make run): DynamoDB, S3, Step Functions, every function, the HTTP API, partners",
		Long: `local starts dsrflow in one process tree, with no Docker and no AWS account:
dynalite (data under <dir>/dynamodb), an S3 emulator for the mailbox bucket,
the local Step Functions engine behind the Step Functions API, every Lambda
handler in-process, the privacy center on 127.0.0.1, simulated partners, a
mail drop folder (<dir>/maildrop), an outbox (<dir>/outbox) and a scaled clock.
It prints every URL and the environment for the aws CLI and dsr, and writes
that environment to <dir>/env. Ctrl-C stops everything; a restart keeps the
requests and restarts their executions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLocal(cmd.Context(), s, &f)
		},
	}
	f.register(cmd, "127.0.0.1:8080")
	return cmd
}

func runLocal(ctx context.Context, s *streams, f *localFlags) error {
	logger, closeLog, err := f.logger(s)
	if err != nil {
		return err
	}
	defer closeLog()
	f.opts.Logger = logger
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	st, err := localstack.Start(startCtx, f.opts)
	cancel()
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("local stack: %w", err)}
	}
	if err := st.WriteEnvFile(); err != nil {
		_ = st.Close()
		return &exitError{code: ExitError, err: err}
	}
	st.WriteBanner(s.out)
	var runErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(s.out, "\nstopping…")
	case err := <-st.Failed():
		runErr = &exitError{code: ExitError, err: fmt.Errorf("local stack: %w", err)}
	}
	if err := st.Close(); err != nil && runErr == nil {
		runErr = &exitError{code: ExitError, err: fmt.Errorf("stop local stack: %w", err)}
	}
	if runErr == nil {
		fmt.Fprintln(s.out, "stopped; requests are kept in", f.opts.Dir)
	}
	return runErr
}
