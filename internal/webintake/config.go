package webintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/awsenv"
	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/idtoken"
	"dsrflow/internal/lazyinit"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// Config is the intake-web function's configuration, read from the
// environment (template.yaml sets these variables).
type Config struct {
	// OIDC is the app's OpenID Connect provider (OIDC_ISSUER,
	// OIDC_AUDIENCE, OIDC_JWKS_URL, ...): POST /requests with its ID token
	// as a bearer token is proved by the login, and no code is sent. Not
	// set: bearer tokens are refused.
	OIDC            idtoken.Config
	TableName       string `env:"TABLE_NAME,required,notEmpty"`
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// Secrets are never environment variables: the environment names
	// Secrets Manager secrets (template.yaml creates them), read at run
	// time through internal/secretstore, cached and refreshed; NewAWS
	// builds the handler again when one changed, so a changed value needs
	// no redeploy.

	// SubjectKeySecretID names the HMAC key of subject keys
	// (dsr.SubjectKey), shared with intake-mail and never rotated.
	SubjectKeySecretID string `env:"SUBJECT_KEY_SECRET_ID,required,notEmpty"`
	// StatusTokenSecretID names the key of status-link tokens, form nonces
	// and idempotency digests (a change voids the links already sent).
	StatusTokenSecretID string `env:"STATUS_TOKEN_SECRET_ID,required,notEmpty"`
	// VerificationCodeSecretID names the code secret, a JSON object
	// {"current": ..., "previous": ...} (verification.ReadCodeSecret),
	// shared with the workflow's verify-identity.
	VerificationCodeSecretID string `env:"VERIFICATION_CODE_SECRET_ID,required,notEmpty"`
	// SecretsDir, when set, reads the secrets from the files of this
	// folder instead of Secrets Manager (the function run by the local
	// stack's tools; never set in template.yaml).
	SecretsDir string `env:"SECRETS_DIR"`

	// The secrets' values (WithSecrets reads them; tests set them).

	// SubjectKeySecret keys subject keys (dsr.SubjectKey).
	SubjectKeySecret string `env:"-"`
	// StatusTokenSecret keys status-link tokens and idempotency scopes.
	StatusTokenSecret string `env:"-"`
	// VerificationCodeSecret keys the code hashes (at least 32 bytes);
	// PreviousVerificationCodeSecret, after a rotation, still checks codes
	// issued before it.
	VerificationCodeSecret         string `env:"-"`
	PreviousVerificationCodeSecret string `env:"-"`
	// PublicBaseURL ("https://privacy.example.cn") makes status links
	// absolute; empty means links relative to the site.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// MaxOpenPerSubject caps one subject's open requests (0: no cap).
	MaxOpenPerSubject int `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`

	// The verification page (POST /requests/{id}/verification) checks codes
	// and sends new ones: it shares these with the workflow's task functions.

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
	// (SES_CONFIGURATION_SET, SMTP_URL, SMTP_USERNAME, SMTP_PASSWORD_SECRET_ID).
	notify.Transport
	// MessageBudget limits the messages to contacts not yet proved
	// (notify.BudgetLimits: MESSAGE_BUDGET_*).
	MessageBudget notify.BudgetLimits
	// RateLimit caps the posts of one client network (PER_IP_LIMIT in
	// PER_IP_WINDOW; ratelimit.go).
	RateLimit RateLimit
	// SMTPUTF8 says the mail transport delivers to addresses whose local
	// part is not ASCII (RFC 6531). Our SES raw and SMTP relay senders are
	// set up without it: false refuses such addresses on the form
	// (email_not_ascii) rather than failing to send the code later.
	SMTPUTF8 bool `env:"SMTPUTF8"`

	// Documents uploaded by guardians, agents and relatives (see the
	// package documentation, "Documents").

	// UploadBucket is the bucket uploads go to (the mailbox bucket); empty
	// turns uploads off: the pages then ask for documents by mail.
	UploadBucket string `env:"UPLOAD_BUCKET"`
	// UploadPrefix holds the uploads: UploadPrefix+"incoming/" (unchecked,
	// expired by the bucket's lifecycle after a day) and
	// UploadPrefix+"documents/" (kept, deleted by the purge).
	UploadPrefix string `env:"UPLOAD_PREFIX" envDefault:"uploads/"`
	// UploadSSE is the encryption every upload must carry: AES256 (SSE-S3)
	// or aws:kms with UploadKMSKeyID (a key ARN).
	UploadSSE      string `env:"UPLOAD_SSE" envDefault:"AES256"`
	UploadKMSKeyID string `env:"UPLOAD_KMS_KEY_ID"`
	// UploadFormTTL is how long a presigned upload form may be used (at
	// most 12h).
	UploadFormTTL time.Duration `env:"UPLOAD_FORM_TTL" envDefault:"1h"`
	// S3UsePathStyle addresses the bucket in the path (S3-compatible
	// endpoints and the local emulator); AWS uses virtual-hosted style.
	S3UsePathStyle bool `env:"S3_USE_PATH_STYLE" envDefault:"false"`
}

// uploadConfig is the upload storage's configuration.
func (c Config) uploadConfig() documents.UploadConfig {
	return documents.UploadConfig{Bucket: c.UploadBucket, Prefix: c.UploadPrefix, SSE: c.UploadSSE, KMSKeyID: c.UploadKMSKeyID, FormTTL: c.UploadFormTTL}
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv() (Config, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Check()
}

// secretValues are the secrets intake-web read: the key of the handler
// NewAWS builds, which it builds again when one changes.
type secretValues struct {
	subject, status, code, previousCode, smtp string
}

// readSecrets reads the secrets at once, in parallel: on a cold start each
// is a Secrets Manager round trip a person waits for.
func (c Config) readSecrets(ctx context.Context, src secretstore.Source) (secretValues, error) {
	var (
		subject, status, code, prev []byte
		t                           notify.Transport
		errs                        [4]error
		wg                          sync.WaitGroup
	)
	wg.Go(func() {
		subject, errs[0] = secretstore.Read(ctx, src, "SUBJECT_KEY_SECRET_ID", c.SubjectKeySecretID, dsr.MinSubjectSecretLen)
	})
	wg.Go(func() {
		status, errs[1] = secretstore.Read(ctx, src, "STATUS_TOKEN_SECRET_ID", c.StatusTokenSecretID, MinTokenSecretLen)
	})
	wg.Go(func() {
		if code, prev, errs[2] = verification.ReadCodeSecret(ctx, src, c.VerificationCodeSecretID); errs[2] != nil {
			errs[2] = fmt.Errorf("VERIFICATION_CODE_SECRET_ID: %w", errs[2])
		}
	})
	wg.Go(func() { t, errs[3] = c.Transport.WithPassword(ctx, src) })
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return secretValues{}, fmt.Errorf("config: %w", err)
	}
	return secretValues{subject: string(subject), status: string(status), code: string(code), previousCode: string(prev), smtp: t.SMTPPassword}, nil
}

// withValues sets the values of the secrets the configuration names;
// values given directly (tests) stay where no secret is named.
func (c Config) withValues(v secretValues) Config {
	if c.SubjectKeySecretID != "" {
		c.SubjectKeySecret = v.subject
	}
	if c.StatusTokenSecretID != "" {
		c.StatusTokenSecret = v.status
	}
	if c.VerificationCodeSecretID != "" {
		c.VerificationCodeSecret, c.PreviousVerificationCodeSecret = v.code, v.previousCode
	}
	if v.smtp != "" {
		c.Transport.SMTPPassword = v.smtp
	}
	return c
}

// WithSecrets returns the configuration with the values of the secrets it
// names read from src (Secrets Manager; the local stack's folder).
func (c Config) WithSecrets(ctx context.Context, src secretstore.Source) (Config, error) {
	v, err := c.readSecrets(ctx, src)
	if err != nil {
		return c, err
	}
	return c.withValues(v), nil
}

// checkSecrets reports secret values that are missing or short (New needs
// all three), naming the secret, never quoting it.
func (c Config) checkSecrets() error {
	errs := []error{
		envconfig.CheckSecret("the subject key secret", c.SubjectKeySecret, dsr.MinSubjectSecretLen),
		envconfig.CheckSecret("the status token secret", c.StatusTokenSecret, MinTokenSecretLen),
		envconfig.CheckSecret("the verification code secret", c.VerificationCodeSecret, verification.MinSecretLen),
	}
	if c.PreviousVerificationCodeSecret != "" {
		errs = append(errs, envconfig.CheckSecret("the previous verification code secret", c.PreviousVerificationCodeSecret, verification.MinSecretLen))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Check reports configuration mistakes, naming the variable, never a secret.
func (c Config) Check() error {
	var errs []error
	errs = append(errs, c.Transport.Check(), c.MessageBudget.Check(), c.OIDC.Check(), c.RateLimit.Check())
	if c.PublicBaseURL != "" {
		errs = append(errs, envconfig.CheckBaseURL("PUBLIC_BASE_URL", c.PublicBaseURL))
	}
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
	if c.UploadBucket != "" {
		// Defaults as NewUploads applies them, so that an empty prefix or
		// lifetime is reported as the storage would take it.
		uc := c.uploadConfig()
		if uc.Prefix == "" {
			uc.Prefix = "uploads/"
		}
		if uc.FormTTL == 0 {
			uc.FormTTL = documents.DefaultFormTTL
		}
		if err := uc.Check(); err != nil {
			errs = append(errs, fmt.Errorf("UPLOAD_BUCKET, UPLOAD_PREFIX, UPLOAD_SSE, UPLOAD_KMS_KEY_ID, UPLOAD_FORM_TTL: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// AWS is the privacy center as the Lambda function serves it (NewAWS).
type AWS struct {
	v        *lazyinit.Value[*Handler]
	fallback *Handler
	logger   *slog.Logger
}

// NewAWS returns the privacy center for the Lambda function: an
// http.Handler that builds the Handler on the first request (or on Prime),
// with clients from the AWS SDK's default configuration (environment,
// including AWS_ENDPOINT_URL_* for local endpoints); constructing it does
// no I/O. Every request reads the secrets through internal/secretstore
// (cached) and builds the Handler again when one changed. A build that
// fails answers that request with the 500 page and is tried again on the
// next one.
func NewAWS(c Config, logger *slog.Logger) *AWS {
	if logger == nil {
		logger = slog.Default()
	}
	var (
		awsCfg  aws.Config
		secrets secretstore.Source
	)
	// key and build run under the lazy value's lock, one at a time.
	key := func(ctx context.Context) (secretValues, error) {
		if secrets == nil {
			cfg, err := awsenv.Load(ctx)
			if err != nil {
				return secretValues{}, fmt.Errorf("load AWS config: %w", err)
			}
			awsCfg, secrets = cfg, secretstore.Open(cfg, c.SecretsDir)
		}
		return c.readSecrets(ctx, secrets)
	}
	v := lazyinit.NewKeyed(key, func(ctx context.Context, sv secretValues) (*Handler, error) {
		c := c.withValues(sv)
		var err error
		deps := Deps{
			Store:  store.Open(awsCfg, store.Config{Table: c.TableName}, nil),
			SFN:    sfn.NewFromConfig(awsCfg),
			Logger: logger,
		}
		if c.UploadBucket != "" {
			deps.S3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = c.S3UsePathStyle })
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
	return &AWS{v: v, fallback: &Handler{clock: time.Now, logger: logger}, logger: logger}
}

// ServeHTTP serves r with the Handler built from the current secrets.
func (a *AWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := a.v.Get(r.Context())
	if err != nil {
		a.logger.ErrorContext(r.Context(), "build the privacy center", "error", err.Error())
		setSecurityHeaders(w.Header())
		a.fallback.internalError(w, r, requestLocale(r))
		return
	}
	h.ServeHTTP(w, r)
}

// Prime reads the secrets and builds the Handler ahead of the first
// request: functions/intake-web starts it beside the Lambda runtime's
// start, so the Secrets Manager reads overlap the rest of the cold start
// instead of following it. A first request that arrives meanwhile waits
// for it; an error is left to that request, which tries again and reports
// it.
func (a *AWS) Prime(ctx context.Context) {
	_, _ = a.v.Get(ctx)
}
