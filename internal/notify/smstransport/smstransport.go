// Package smstransport picks the notify.SMSSender that the configuration
// names: AWS End User Messaging SMS (package smsaws) in the aws partition,
// Alibaba Cloud SMS (package smsaliyun) in aws-cn, or none (phone-only
// requesters are then verified and answered by hand). Only the functions
// that write to requesters import it. Locally, the outbox takes SMS like
// mail and no provider is configured.
//
// Environment (Config):
//
//	SMS_PROVIDER                   aws | aliyun | none (empty: none)
//	SMS_SENDER_NAME                aws: the name in front of every text ("示例音乐"); optional
//	SMS_ORIGINATION_IDENTITY       aws: phone number, sender ID or pool (ID or ARN); optional
//	SMS_CONFIGURATION_SET          aws: configuration set (name or ARN); optional
//	ALIYUN_SMS_ENDPOINT            aliyun: API base URL; default https://dysmsapi.aliyuncs.com
//	ALIYUN_SMS_SIGN_NAME           aliyun: the registered signature; required
//	ALIYUN_SMS_TEMPLATES           aliyun: template=TemplateCode for every notify.SMSTemplates, comma-separated; required
//	ALIYUN_SMS_CREDENTIALS_SECRET  aliyun: the Secrets Manager secret (name or ARN) holding the AccessKey
//	                               as smsaliyun.ParseCredentials reads it; required
package smstransport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/envconfig"
	"dsrflow/internal/notify"
	"dsrflow/internal/notify/smsaliyun"
	"dsrflow/internal/notify/smsaws"
	"dsrflow/internal/secretstore"
)

// Providers, the values of SMS_PROVIDER.
const (
	ProviderNone   = "none"
	ProviderAWS    = "aws"
	ProviderAliyun = "aliyun"
)

// maxTemplatesLen bounds ALIYUN_SMS_TEMPLATES.
const maxTemplatesLen = 4096

// ErrNoSMSInChina: AWS End User Messaging SMS is not offered in the aws-cn
// partition.
var ErrNoSMSInChina = errors.New("SMS_PROVIDER=aws: AWS End User Messaging SMS is not offered in the China regions; set SMS_PROVIDER=aliyun")

// Config is the SMS provider's configuration, read from the environment
// (envconfig.Parse, or embedded in a function's configuration struct).
type Config struct {
	Provider            string `env:"SMS_PROVIDER"`
	SenderName          string `env:"SMS_SENDER_NAME"`
	OriginationIdentity string `env:"SMS_ORIGINATION_IDENTITY"`
	ConfigurationSet    string `env:"SMS_CONFIGURATION_SET"`

	AliyunEndpoint          string `env:"ALIYUN_SMS_ENDPOINT"`
	AliyunSignName          string `env:"ALIYUN_SMS_SIGN_NAME"`
	AliyunTemplates         string `env:"ALIYUN_SMS_TEMPLATES"`
	AliyunCredentialsSecret string `env:"ALIYUN_SMS_CREDENTIALS_SECRET"`
}

// provider is Provider with empty read as none.
func (c Config) provider() string {
	if c.Provider == "" {
		return ProviderNone
	}
	return c.Provider
}

// Enabled reports whether a provider is configured.
func (c Config) Enabled() bool { return c.provider() != ProviderNone }

// Check reports configuration mistakes by variable name, never a value.
func (c Config) Check() error {
	var errs []error
	awsSet := c.SenderName != "" || c.OriginationIdentity != "" || c.ConfigurationSet != ""
	aliyunSet := c.AliyunEndpoint != "" || c.AliyunSignName != "" || c.AliyunTemplates != "" || c.AliyunCredentialsSecret != ""
	switch c.provider() {
	case ProviderNone:
		if awsSet || aliyunSet {
			errs = append(errs, errors.New("SMS_* or ALIYUN_SMS_* variables are set but SMS_PROVIDER is none or empty"))
		}
	case ProviderAWS:
		if aliyunSet {
			errs = append(errs, errors.New("ALIYUN_SMS_* variables are set but SMS_PROVIDER is aws"))
		}
		if c.SenderName != "" {
			if err := checkName("SMS_SENDER_NAME", c.SenderName, 12); err != nil {
				errs = append(errs, err)
			}
		}
		for _, v := range []struct{ name, value string }{{"SMS_ORIGINATION_IDENTITY", c.OriginationIdentity}, {"SMS_CONFIGURATION_SET", c.ConfigurationSet}} {
			if len(v.value) > 256 || strings.IndexFunc(v.value, unicode.IsSpace) >= 0 || strings.IndexFunc(v.value, unicode.IsControl) >= 0 {
				errs = append(errs, fmt.Errorf("%s must be an ID, name or ARN without spaces, at most 256 bytes", v.name))
			}
		}
	case ProviderAliyun:
		if awsSet {
			errs = append(errs, errors.New("SMS_SENDER_NAME, SMS_ORIGINATION_IDENTITY and SMS_CONFIGURATION_SET are for SMS_PROVIDER=aws; the aliyun signature is ALIYUN_SMS_SIGN_NAME"))
		}
		if c.AliyunEndpoint != "" {
			if err := checkEndpoint(c.AliyunEndpoint); err != nil {
				errs = append(errs, err)
			}
		}
		if err := checkName("ALIYUN_SMS_SIGN_NAME", c.AliyunSignName, 20); err != nil {
			errs = append(errs, err)
		}
		if _, err := ParseTemplates(c.AliyunTemplates); err != nil {
			errs = append(errs, err)
		}
		if c.AliyunCredentialsSecret == "" {
			errs = append(errs, errors.New("ALIYUN_SMS_CREDENTIALS_SECRET is required with SMS_PROVIDER=aliyun"))
		}
	default:
		errs = append(errs, errors.New("SMS_PROVIDER must be aws, aliyun or none"))
	}
	return errors.Join(errs...)
}

// checkName checks a signature or sender name: 1 to max characters, no
// control characters, no brackets (the signature's own 【】 are added).
func checkName(name, v string, max int) error {
	if v == "" {
		return fmt.Errorf("%s is required", name)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max || strings.ContainsAny(v, "【】[]") || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s must be 1 to %d characters without control characters or brackets", name, max)
	}
	return nil
}

// checkEndpoint accepts https://host[:port], or http:// on a loopback
// host (a local stand-in).
func checkEndpoint(v string) error {
	u, err := url.Parse(v)
	bad := err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil
	loopback := u != nil && (u.Hostname() == "localhost" || strings.HasPrefix(u.Hostname(), "127.") || u.Hostname() == "::1")
	if bad || !(u.Scheme == "https" || u.Scheme == "http" && loopback) {
		return errors.New("ALIYUN_SMS_ENDPOINT must be https://host[:port] (http only on a loopback host)")
	}
	return nil
}

// ParseTemplates reads ALIYUN_SMS_TEMPLATES: template=TemplateCode pairs,
// comma-separated, naming every template in notify.SMSTemplates once.
// TemplateCodes are 1 to 64 of A–Z a–z 0–9 _ (Alibaba's look like
// SMS_123456789). Errors name templates, which are not secret.
func ParseTemplates(s string) (map[string]string, error) {
	const name = "ALIYUN_SMS_TEMPLATES"
	if len(s) > maxTemplatesLen {
		return nil, fmt.Errorf("%s is longer than %d bytes", name, maxTemplatesLen)
	}
	known := notify.SMSTemplates()
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		tmpl, code, ok := strings.Cut(pair, "=")
		tmpl, code = strings.TrimSpace(tmpl), strings.TrimSpace(code)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: each entry must be template=TemplateCode", name)
		case !slices.Contains(known, tmpl):
			return nil, fmt.Errorf("%s: unknown template (known: %s)", name, strings.Join(known, ", "))
		case out[tmpl] != "":
			return nil, fmt.Errorf("%s: template %s is given twice", name, tmpl)
		case !validTemplateCode(code):
			return nil, fmt.Errorf("%s: the TemplateCode of %s must be 1 to 64 of A-Z a-z 0-9 _", name, tmpl)
		}
		out[tmpl] = code
	}
	var missing []string
	for _, t := range known {
		if out[t] == "" {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s lacks a TemplateCode for %s", name, strings.Join(missing, ", "))
	}
	return out, nil
}

func validTemplateCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Deps are what the senders are built with.
type Deps struct {
	// AWS is the SDK configuration (awsenv.Load): its region tells the
	// partition; the aws provider's client is made from it.
	AWS aws.Config
	// AliyunCredentials gives the AccessKey (the functions back it with
	// Secrets Manager and ALIYUN_SMS_CREDENTIALS_SECRET); required for
	// the aliyun provider.
	AliyunCredentials smsaliyun.CredentialSource
	// HTTPClient is the aliyun provider's HTTP client; nil: a default
	// with a timeout.
	HTTPClient *http.Client
	// Now is the aliyun provider's clock; nil: time.Now.
	Now func() time.Time
}

// New is the SMS sender c names, or nil (and no error) when c names none.
// It does no I/O and makes no AWS client: those are made on the first
// message.
func New(c Config, d Deps) (notify.SMSSender, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	switch c.provider() {
	case ProviderAWS:
		if strings.HasPrefix(d.AWS.Region, "cn-") {
			return nil, ErrNoSMSInChina
		}
		return smsaws.FromConfig(d.AWS, smsaws.Config{
			OriginationIdentity: c.OriginationIdentity, ConfigurationSet: c.ConfigurationSet, SenderName: c.SenderName,
		}), nil
	case ProviderAliyun:
		templates, err := ParseTemplates(c.AliyunTemplates)
		if err != nil {
			return nil, err
		}
		if d.AliyunCredentials == nil {
			return nil, errors.New("SMS_PROVIDER=aliyun needs a credential source")
		}
		s, err := smsaliyun.New(smsaliyun.Config{Endpoint: c.AliyunEndpoint, SignName: c.AliyunSignName, Templates: templates},
			smsaliyun.Deps{Credentials: d.AliyunCredentials, HTTPClient: d.HTTPClient, Now: d.Now})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, nil
}

// compile-time checks that both senders are notify.SMSSenders.
var (
	_ notify.SMSSender = (*smsaws.Sender)(nil)
	_ notify.SMSSender = (*smsaliyun.Sender)(nil)
)

// Factory makes the SMS sender on a function's first invocation, from the
// AWS configuration loaded then (workflow.SMSFactory's shape).
type Factory func(ctx context.Context, awsCfg aws.Config) (notify.SMSSender, error)

// FromEnv reads and checks Config from the process environment now, at
// start (errors name variables, never values), and returns the factory.
// The aliyun AccessKey is read at run time from the Secrets Manager secret
// ALIYUN_SMS_CREDENTIALS_SECRET names (cached and refreshed by
// secretstore: a rotated key needs no redeploy), never from a variable.
func FromEnv() (Factory, error) {
	c, err := envconfig.Parse[Config]()
	if err != nil {
		return nil, fmt.Errorf("sms config: %w", err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("sms config: %w", err)
	}
	return c.Factory(), nil
}

// Factory is the factory of c's sender; the aliyun credentials come from
// Secrets Manager.
func (c Config) Factory() Factory {
	return func(ctx context.Context, awsCfg aws.Config) (notify.SMSSender, error) {
		d := Deps{AWS: awsCfg}
		if c.provider() == ProviderAliyun {
			secrets := secretstore.FromConfig(awsCfg)
			name := c.AliyunCredentialsSecret
			d.AliyunCredentials = smsaliyun.CredentialsFunc(func(ctx context.Context) (smsaliyun.Credentials, error) {
				b, err := secrets.Secret(ctx, name)
				if err != nil {
					return smsaliyun.Credentials{}, err
				}
				return smsaliyun.ParseCredentials(b)
			})
		}
		return New(c, d)
	}
}
