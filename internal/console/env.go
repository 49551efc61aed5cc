package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/documents"
	"dsrflow/internal/dsr"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/mailtransport"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/principal"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

// Env is `dsr console`'s configuration, read from the environment under
// the names template.yaml gives the functions (`make run` writes them to
// .local/env; against AWS the operator sets them from the stack's outputs
// and parameters).
type Env struct {
	// TableName is the requests table (TABLE_NAME, or DSR_TABLE as the
	// other dsr commands read it).
	TableName string `env:"TABLE_NAME"`
	DSRTable  string `env:"DSR_TABLE"`
	// StateMachineArn is the request workflow (the StateMachineArn output).
	StateMachineArn string `env:"STATE_MACHINE_ARN,required,notEmpty"`
	// SubjectKeySecretID names the secret that keys subject and hint keys
	// (the stack's SubjectKeySecretId output), read from Secrets Manager,
	// or from SECRETS_DIR's files on the local stack. SubjectKeySecret,
	// the value itself, is read instead when set.
	SubjectKeySecretID string `env:"SUBJECT_KEY_SECRET_ID"`
	SubjectKeySecret   string `env:"SUBJECT_KEY_SECRET"`
	// StatusTokenSecretID names the status links' key (the
	// StatusTokenSecretId output): "ask for more information" then links
	// a guardian's or agent's request to its documents page. Optional.
	StatusTokenSecretID string `env:"STATUS_TOKEN_SECRET_ID"`
	// PartnerSecretsID names the partners' signing secrets (the
	// PartnerSecretsId output) for the configuration's secretsmanager:#
	// references.
	PartnerSecretsID  string `env:"PARTNER_SECRETS_ID"`
	SecretsDir        string `env:"SECRETS_DIR"`
	Jurisdiction      string `env:"JURISDICTION" envDefault:"CN"`
	MaxOpenPerSubject int    `env:"MAX_OPEN_PER_SUBJECT" envDefault:"3"`
	PublicBaseURL     string `env:"PUBLIC_BASE_URL"`
	// Mail: the console's messages go out as the workflow's do (SES, the
	// SMTP relay of SMTP_URL, or OUTBOX_DIR locally); without MAIL_FROM
	// the console sends none and says so.
	MailFrom       string `env:"MAIL_FROM"`
	MailFromName   string `env:"MAIL_FROM_NAME" envDefault:"隐私团队 Privacy Team"`
	PrivacyContact string `env:"PRIVACY_CONTACT"`
	OutboxDir      string `env:"OUTBOX_DIR"`
	notify.Transport
	// The mailbox, as intake-mail reads it.
	AttachmentPrefix   string   `env:"ATTACHMENT_PREFIX" envDefault:"attachments/"`
	TrustedAuthServIDs []string `env:"TRUSTED_AUTHSERV_IDS" envSeparator:","`
	S3UsePathStyle     bool     `env:"S3_USE_PATH_STYLE"`
	// Partners, for retries (PARTNERS_CONFIG; secrets as it references
	// them); without it the partner actions say they are unavailable.
	PartnersConfig    string        `env:"PARTNERS_CONFIG"`
	PartnerTryTimeout time.Duration `env:"PARTNER_TRY_TIMEOUT" envDefault:"10s"`
	ExportBucket      string        `env:"EXPORT_BUCKET"`
	ExportSSE         string        `env:"EXPORT_SSE" envDefault:"aws:kms"`
	ExportKMSKeyID    string        `env:"EXPORT_KMS_KEY_ID"`
	ExportLinkTTL     time.Duration `env:"EXPORT_LINK_TTL" envDefault:"72h"`
	DocumentLinkTTL   time.Duration `env:"DOCUMENT_LINK_TTL" envDefault:"5m"`
}

// minStatusSecretLen is intake-web's minimum for the status token secret
// (webintake.MinTokenSecretLen), checked again here.
const minStatusSecretLen = 32

// LoadEnv reads Env from environ (nil: the process environment) and
// checks it, naming variables, never values.
func LoadEnv(environ map[string]string) (Env, error) {
	e, err := envconfig.ParseFrom[Env](environ)
	if err != nil {
		return Env{}, fmt.Errorf("console config: %w", err)
	}
	if e.TableName == "" {
		e.TableName = e.DSRTable
	}
	var errs []error
	if e.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME (or DSR_TABLE) is required"))
	}
	if e.SubjectKeySecretID == "" && e.SubjectKeySecret == "" {
		errs = append(errs, errors.New("SUBJECT_KEY_SECRET_ID (the stack's SubjectKeySecretId output) or SUBJECT_KEY_SECRET is required"))
	}
	if _, err := workday.ParseJurisdiction(e.Jurisdiction); err != nil {
		errs = append(errs, fmt.Errorf("JURISDICTION: %w", err))
	}
	if e.PublicBaseURL != "" {
		errs = append(errs, envconfig.CheckBaseURL("PUBLIC_BASE_URL", e.PublicBaseURL))
	}
	if e.MailFrom != "" && e.OutboxDir == "" {
		errs = append(errs, e.Transport.Check())
	}
	if e.DocumentLinkTTL <= 0 || e.DocumentLinkTTL > documents.MaxViewTTL {
		errs = append(errs, fmt.Errorf("DOCUMENT_LINK_TTL must be positive and at most %s", documents.MaxViewTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return Env{}, fmt.Errorf("console config: %w", err)
	}
	return e, nil
}

// FromEnv builds the console from e with clients made from awsCfg (its
// endpoints come from AWS_ENDPOINT_URL_* locally), as principal p. The
// secrets are read once, as the console starts.
func FromEnv(ctx context.Context, e Env, awsCfg aws.Config, p principal.Principal, logger *slog.Logger) (*Handler, error) {
	j, _ := workday.ParseJurisdiction(e.Jurisdiction)
	secrets := secretstore.Open(awsCfg, e.SecretsDir)
	subjectSecret := e.SubjectKeySecret
	if subjectSecret == "" {
		v, err := secretstore.Read(ctx, secrets, "SUBJECT_KEY_SECRET_ID", e.SubjectKeySecretID, dsr.MinSubjectSecretLen)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		subjectSecret = string(v)
	}
	st := store.Open(awsCfg, store.Config{Table: e.TableName}, nil)
	sc := sfn.NewFromConfig(awsCfg)
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = e.S3UsePathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	deps := Deps{Store: st, SFN: sc, Objects: s3c, Documents: documents.New(s3c), Principal: p, Logger: logger}
	if e.MailFrom != "" {
		var email notify.EmailSender
		if e.OutboxDir == "" {
			t, err := e.Transport.WithPassword(ctx, secrets)
			if err != nil {
				return nil, fmt.Errorf("console: email transport: %w", err)
			}
			if email, err = mailtransport.FromConfig(awsCfg, t, e.MailFrom); err != nil {
				return nil, fmt.Errorf("console: email transport: %w", err)
			}
		}
		deps.Mail = notify.NewRouter(notify.RouterConfig{From: e.MailFrom, FromName: e.MailFromName, OutboxDir: e.OutboxDir}, notify.RouterDeps{Email: email})
	}
	if e.PartnersConfig != "" {
		pc, err := partner.LoadConfig(e.PartnersConfig)
		if err != nil {
			return nil, fmt.Errorf("console: PARTNERS_CONFIG: %w", err)
		}
		pdeps := partner.DispatcherDeps{Store: st, Client: &partner.Client{TryTimeout: e.PartnerTryTimeout}, SFN: sc, Logger: logger,
			Secrets: partner.NewSecrets(map[string]partner.SecretResolver{
				partner.SecretStoreScheme: partner.SecretStore{Getter: secrets, Default: e.PartnerSecretsID},
			}),
		}
		if e.ExportBucket != "" {
			pdeps.Exports = &export.Store{Objects: s3bucket.Open(awsCfg, e.ExportBucket), SSE: e.ExportSSE, KMSKeyID: e.ExportKMSKeyID, LinkTTL: e.ExportLinkTTL}
		}
		d := partner.NewDispatcher(partner.DispatcherConfig{Partners: pc, CallbackBaseURL: e.PublicBaseURL}, pdeps)
		deps.Operations = workflow.NewOperations(workflow.OperationsDeps{Store: st, Partners: d, SFN: sc})
	}
	statusSecret, err := secretstore.Read(ctx, secrets, "STATUS_TOKEN_SECRET_ID", e.StatusTokenSecretID, minStatusSecretLen)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	team := e.PrivacyContact
	if team == "" {
		team = e.MailFrom
	}
	return New(Config{
		Jurisdiction: j, SubjectKeySecret: subjectSecret, StateMachineArn: e.StateMachineArn, MaxOpenPerSubject: e.MaxOpenPerSubject,
		PublicBaseURL: e.PublicBaseURL, StatusTokenSecret: string(statusSecret), PrivacyContact: team, AttachmentPrefix: e.AttachmentPrefix,
		TrustedAuthServIDs: e.TrustedAuthServIDs, DocumentLinkTTL: e.DocumentLinkTTL,
	}, deps)
}
