package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dsrflow/internal/dev/devstack"
)

// localFlags are the flags of dsr local and dsr local load.
type localFlags struct {
	opts     devstack.Options
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
	fl.StringVar(&f.opts.ConsoleAddr, "console", "127.0.0.1:8090", "address of the privacy team's console")
	fl.Float64Var(&f.opts.ClockScale, "clock-scale", devstack.DefaultClockScale, "workflow seconds per real second (86400: a day per second)")
	fl.DurationVar(&f.opts.HumanHold, "human-hold", devstack.DefaultHumanHold, "how long an execution's clock runs at real speed while a person or a partner is awaited (code, operator, callback); negative: never")
	fl.DurationVar(&f.opts.Partners.Latency, "partner-latency", 0, "delay of every simulated partner answer")
	fl.Float64Var(&f.opts.Partners.FailureRate, "partner-failure-rate", 0, "fraction of partner calls answered 503 (0 <= rate < 1)")
	fl.StringVar(&f.opts.Partners.Mode, "partner-mode", "mixed", "simulated partners answer sync, async, or mixed (as configured)")
	fl.DurationVar(&f.opts.Partners.CallbackDelay, "partner-callback-delay", time.Second, "how long an async partner takes to call back (real time)")
	fl.StringVar(&f.logFile, "log", "", "log file (default <dir>/stack.log; - for stderr)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

// check reports bad flag values as usage errors (exit 2).
func (f *localFlags) check() error {
	switch f.opts.Partners.Mode {
	case "sync", "async", "mixed":
	default:
		return usageErrorf("--partner-mode %q: want sync, async or mixed", f.opts.Partners.Mode)
	}
	if r := f.opts.Partners.FailureRate; r < 0 || r >= 1 {
		return usageErrorf("--partner-failure-rate %v: want 0 <= rate < 1", r)
	}
	if f.opts.Partners.Latency < 0 {
		return usageErrorf("--partner-latency must not be negative")
	}
	if f.opts.ClockScale < 1 {
		return usageErrorf("--clock-scale %v: must be at least 1", f.opts.ClockScale)
	}
	return nil
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
	cmd.AddCommand(newLocalLoadCmd(s), newLocalTokenCmd(s))
	return cmd
}

func runLocal(ctx context.Context, s *streams, f *localFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	logger, closeLog, err := f.logger(s)
	if err != nil {
		return err
	}
	defer closeLog()
	f.opts.Logger = logger
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	st, err := devstack.Start(startCtx, f.opts)
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

func newLocalLoadCmd(s *streams) *cobra.Command {
	var (
		f       localFlags
		lo      devstack.LoadOptions
		asJSON  bool
		noCrash bool
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "push N requests of mixed kinds through a fresh local stack, with faults, and report",
		Long: `load starts a fresh local stack (in a temporary folder unless --dir is given;
every port free), sends --requests requests of every kind by the HTTP API and
the mail drop, and injects faults on the way: partner failures
(--partner-failure-rate), duplicate form submits, duplicate mail deliveries
and one crashed handler (the reconciler must recover it). It enters every
verification code from the outbox, waits until every request has finished and
reports completed, refused and escalated counts, lost and duplicated requests
(both must be 0), restarts, states entered per request and wall time.
Exit status 1 when a request was lost or duplicated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lo.Requests < 1 {
				return usageErrorf("--requests must be at least 1")
			}
			if err := f.check(); err != nil {
				return err
			}
			if f.opts.Dir == "" {
				dir, err := os.MkdirTemp("", "dsrflow-load-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				f.opts.Dir = dir
			}
			logger, closeLog, err := f.logger(s)
			if err != nil {
				return err
			}
			defer closeLog()
			f.opts.Logger = logger
			var crasher *devstack.Crasher
			if !noCrash {
				crasher = &devstack.Crasher{Function: "admit", After: lo.Requests / 2}
				f.opts.WrapHandler = crasher.Wrap
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := devstack.Start(ctx, f.opts)
			if err != nil {
				return &exitError{code: ExitError, err: fmt.Errorf("local stack: %w", err)}
			}
			rep, loadErr := devstack.Load(ctx, st, lo, crasher)
			if err := st.Close(); err != nil && loadErr == nil {
				loadErr = err
			}
			if loadErr != nil {
				return &exitError{code: ExitError, err: loadErr}
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(s.out)
			}
			if rep.Lost > 0 || rep.Duplicated > 0 {
				return failuref("%d lost, %d duplicated", rep.Lost, rep.Duplicated)
			}
			return nil
		},
	}
	f.register(cmd, "127.0.0.1:0")
	fl := cmd.Flags()
	// A load run gets a fresh folder and free ports unless told otherwise.
	_ = fl.Set("dir", "")
	fl.Lookup("dir").DefValue = "a new temporary folder"
	for _, name := range []string{"dynamodb", "s3", "sfn", "partners", "console"} {
		_ = fl.Set(name, "127.0.0.1:0")
		fl.Lookup(name).DefValue = "127.0.0.1:0"
	}
	_ = fl.Set("partner-callback-delay", "100ms")
	fl.Lookup("partner-callback-delay").DefValue = "100ms"
	_ = fl.Set("clock-scale", "864000")
	fl.Lookup("clock-scale").DefValue = "864000"
	fl.IntVar(&lo.Requests, "requests", 30, "how many distinct requests to send")
	fl.IntVar(&lo.Concurrency, "concurrency", 8, "submissions in flight")
	fl.DurationVar(&lo.Timeout, "timeout", 3*time.Minute, "give up waiting after this long")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.BoolVar(&noCrash, "no-crash", false, "do not crash a handler")
	return cmd
}
