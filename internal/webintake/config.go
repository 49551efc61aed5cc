package webintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Config is the intake-web function's configuration, read from the
// environment (template.yaml sets these variables).
type Config struct {
	TableName       string `env:"TABLE_NAME,required,notEmpty"`
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecret keys subject keys (dsr.SubjectKey); shared with intake-mail.
	SubjectKeySecret string `env:"SUBJECT_KEY_SECRET,required,notEmpty"`
	// StatusTokenSecret keys status-link tokens and idempotency scopes.
	StatusTokenSecret string `env:"STATUS_TOKEN_SECRET,required,notEmpty"`
	// PublicBaseURL ("https://privacy.example.cn") makes status links
	// absolute; empty means links relative to the site.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// MaxOpenPerSubject caps one subject's open requests (0: no cap).
	MaxOpenPerSubject int `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`

	// The verification page (POST /requests/{id}/verification) checks codes
	// and sends new ones: it shares these with the workflow's task functions.

	// VerificationCodeSecret keys the code hashes (at least 32 bytes); the
	// same value as the workflow functions' VERIFICATION_CODE_SECRET.
	VerificationCodeSecret string `env:"VERIFICATION_CODE_SECRET,required,notEmpty"`
	// MailFrom is the sender address of new codes and of the lock notice;
	// MailFromName its display name.
	MailFrom     string `env:"MAIL_FROM,required,notEmpty"`
	MailFromName string `env:"MAIL_FROM_NAME" envDefault:"隐私团队 Privacy Team"`
	// PrivacyContact is the address requesters are told to write to when
	// verification cannot go on (default MAIL_FROM; policy 十).
	PrivacyContact string `env:"PRIVACY_CONTACT"`
	// OutboxDir, when set, writes messages as .eml files there instead of
	// sending them through SES (the local stack).
	OutboxDir string `env:"OUTBOX_DIR"`
	// Transport is how email leaves: SES, or the SMTP relay of SMTP_URL
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD).
	notify.Transport
	// SMTPUTF8 says the mail transport delivers to addresses whose local
	// part is not ASCII (RFC 6531). Our SES raw and SMTP relay senders are
	// set up without it: false refuses such addresses on the form
	// (email_not_ascii) rather than failing to send the code later.
	SMTPUTF8 bool `env:"SMTPUTF8"`
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv() (Config, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Check()
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	errs = append(errs, c.Transport.Check(),
		envconfig.CheckSecret("SUBJECT_KEY_SECRET", c.SubjectKeySecret, dsr.MinSubjectSecretLen),
		envconfig.CheckSecret("STATUS_TOKEN_SECRET", c.StatusTokenSecret, MinTokenSecretLen))
	if c.PublicBaseURL != "" {
		errs = append(errs, envconfig.CheckBaseURL("PUBLIC_BASE_URL", c.PublicBaseURL))
	}
	errs = append(errs, envconfig.CheckSecret("VERIFICATION_CODE_SECRET", c.VerificationCodeSecret, verification.MinSecretLen))
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		errs = append(errs, errors.New("MAIL_FROM must be an email address"))
	}
	if c.PrivacyContact != "" {
		if _, err := mail.ParseAddress(c.PrivacyContact); err != nil {
			errs = append(errs, errors.New("PRIVACY_CONTACT must be an email address"))
		}
	}
	if c.MaxOpenPerSubject < 0 {
		errs = append(errs, errors.New("MAX_OPEN_PER_SUBJECT must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// NewAWS returns the privacy center for the Lambda function: an
// http.Handler that builds the Handler on the first request, with clients
// from the AWS SDK's default configuration (environment, including
// AWS_ENDPOINT_URL_* for local endpoints), so that the cold start's init
// does no I/O. A build that fails answers that request with the 500 page and
// is tried again on the next one.
func NewAWS(c Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	v := lazyinit.New(func(ctx context.Context) (*Handler, error) {
		awsCfg, err := awsenv.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		deps := Deps{
			Store:  store.Open(awsCfg, store.Config{Table: c.TableName}, nil),
			SFN:    sfn.NewFromConfig(awsCfg),
			Logger: logger,
		}
		if c.OutboxDir == "" {
			if deps.Email, err = mailtransport.FromConfig(awsCfg, c.Transport, c.MailFrom); err != nil {
				return nil, fmt.Errorf("email transport: %w", err)
			}
		}
		return New(c, deps)
	})
	// fallback renders the error page when the build fails: it needs no
	// client.
	fallback := &Handler{clock: time.Now, logger: logger}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := v.Get(r.Context())
		if err != nil {
			logger.ErrorContext(r.Context(), "build the privacy center", "error", err.Error())
			setSecurityHeaders(w.Header())
			fallback.internalError(w, r, requestLocale(r))
			return
		}
		h.ServeHTTP(w, r)
	})
}
