package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/documents"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/intake"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

// Config is the reconcile function's configuration, read from the
// environment (template.yaml sets these variables; the local stack too).
type Config struct {
	TableName       string        `env:"TABLE_NAME,required,notEmpty"`
	StateMachineArn string        `env:"STATE_MACHINE_ARN,required,notEmpty"`
	Grace           time.Duration `env:"RECONCILE_GRACE" envDefault:"2m"`
	DueSoonDays     int           `env:"DUE_SOON_WORKING_DAYS" envDefault:"3"`
	MaxRestarts     int           `env:"MAX_EXECUTION_RESTARTS" envDefault:"3"`
	// QuietRepeats logs a request's due-date warning (past due, due soon,
	// outside the calendar) only when it first appears or changes, not on
	// every pass; the report and the metrics still count it every pass. For
	// a long-running reconciler that passes every few seconds (the local
	// stack); on AWS each scheduled pass logs what it finds.
	QuietRepeats bool `env:"RECONCILE_QUIET_REPEATS" envDefault:"false"`

	// CalendarHorizonDays is how many days ahead the Chinese holiday data
	// must reach; when it does not, the pass raises CalendarDataMissing.
	// The default, 64, is the longest span of 15 working days in the data
	// (29 calendar days, from 2011-09-09) plus the backup window
	// (BACKUP_ROTATION's default, 840h = 35 days): a request verified today
	// has its due date and its backup wait inside the horizon.
	CalendarHorizonDays int `env:"CALENDAR_HORIZON_DAYS" envDefault:"64"`

	// ContactRetention is the follow-up period after a request closes
	// (the workflow's CONTACT_RETENTION); PurgeGrace more, and the pass
	// purges the personal data the workflow's Purge step left behind. The
	// grace lets a Purge step that is running finish first, and must stay
	// under the day after which the items' TTL (set at closing to the
	// purge date + 24h) may delete the document items the sweep reads.
	ContactRetention time.Duration `env:"CONTACT_RETENTION" envDefault:"720h"`
	PurgeGrace       time.Duration `env:"RECONCILE_PURGE_GRACE" envDefault:"1h"`
	// PurgeLimit bounds the purges one pass attempts.
	PurgeLimit int `env:"RECONCILE_PURGE_LIMIT" envDefault:"50"`
	// DeleteDocuments wires document storage (S3, internal/documents) so
	// that the sweep deletes a request's documents before its items; it
	// needs s3:DeleteObject on the documents' buckets. Without it a request
	// with documents is not purged but reported (PersonalDataPurgeBlocked).
	DeleteDocuments bool `env:"RECONCILE_DELETE_DOCUMENTS" envDefault:"false"`
}

// Limits of the configuration.
const (
	maxCalendarHorizonDays = 366
	maxContactRetention    = 365 * 24 * time.Hour
	maxPurgeGrace          = 23 * time.Hour
	maxPurgeLimit          = 1000
)

// ConfigFrom reads Config from environ (the process environment when nil).
func ConfigFrom(environ map[string]string) (Config, error) {
	c, err := envconfig.ParseFrom[Config](environ)
	if err != nil {
		return Config{}, fmt.Errorf("reconcile config: %w", err)
	}
	return c, c.Check()
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	if c.Grace < 0 {
		errs = append(errs, errors.New("RECONCILE_GRACE must not be negative"))
	}
	if c.DueSoonDays < 1 {
		errs = append(errs, errors.New("DUE_SOON_WORKING_DAYS must be at least 1"))
	}
	if c.MaxRestarts < 1 {
		errs = append(errs, errors.New("MAX_EXECUTION_RESTARTS must be at least 1"))
	}
	if c.CalendarHorizonDays < 1 || c.CalendarHorizonDays > maxCalendarHorizonDays {
		errs = append(errs, fmt.Errorf("CALENDAR_HORIZON_DAYS must be 1–%d", maxCalendarHorizonDays))
	}
	if c.ContactRetention <= 0 || c.ContactRetention > maxContactRetention {
		errs = append(errs, errors.New("CONTACT_RETENTION must be positive and at most 8760h"))
	}
	if c.PurgeGrace < 0 || c.PurgeGrace > maxPurgeGrace {
		errs = append(errs, errors.New("RECONCILE_PURGE_GRACE must be 0–23h (the personal items' TTL follows the purge date by 24h)"))
	}
	if c.PurgeLimit < 1 || c.PurgeLimit > maxPurgeLimit {
		errs = append(errs, fmt.Errorf("RECONCILE_PURGE_LIMIT must be 1–%d", maxPurgeLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile config: %w", err)
	}
	return nil
}

// Deps are the reconciler's clients, clock and outputs.
type Deps struct {
	Store *store.Store
	SFN   SFN
	// Documents deletes a purged request's documents; nil: requests with
	// documents are reported, not purged.
	Documents Documents
	// Calendar is the working-day calendar (default workday.Default()).
	Calendar *workday.Calendar
	Clock    func() time.Time
	// Metrics receives one EMF line per pass (default os.Stdout).
	Metrics io.Writer
	Logger  *slog.Logger
}

// New wires a Reconciler from configuration and clients. It needs no
// secret: it starts stored requests (intake.Starter), it never submits.
func New(c Config, d Deps) (*Reconciler, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.SFN == nil {
		return nil, errors.New("reconcile: Store and SFN are required")
	}
	r := &Reconciler{store: d.Store, sfn: d.SFN, docs: d.Documents, cal: d.Calendar, arn: c.StateMachineArn, cfg: c, clock: d.Clock, metrics: d.Metrics, logger: d.Logger}
	if r.cal == nil {
		cal, err := workday.Default()
		if err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		r.cal = cal
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.metrics == nil {
		r.metrics = os.Stdout
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: c.StateMachineArn},
		intake.StarterDeps{Store: d.Store, SFN: d.SFN, Clock: r.clock, Logger: r.logger})
	if err != nil {
		return nil, err
	}
	r.starter = starter
	return r, nil
}

// FromEnv reads and checks the configuration now and returns the reconciler
// to be built on the first invocation, with clients from the default AWS
// configuration (AWS_ENDPOINT_URL_* for local endpoints).
func FromEnv(logger *slog.Logger) (*lazyinit.Value[*Reconciler], error) {
	c, err := ConfigFrom(nil)
	if err != nil {
		return nil, err
	}
	return lazyinit.New(func(ctx context.Context) (*Reconciler, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		d := Deps{Store: store.Open(awsCfg, store.Config{Table: c.TableName}, nil), SFN: sfn.NewFromConfig(awsCfg), Logger: logger}
		if c.DeleteDocuments {
			d.Documents = documents.Open(awsCfg)
		}
		return New(c, d)
	}), nil
}
