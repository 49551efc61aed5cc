package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Transport is how email leaves, read from the environment by the functions
// that write to requesters: Amazon SES by default, or an SMTP relay when
// SMTP_URL is set (the China regions, where SES is not offered: Alibaba
// Cloud DirectMail, Tencent Cloud SES, an enterprise mail server).
type Transport struct {
	// SESConfigurationSet is optional (SES only).
	SESConfigurationSet string `env:"SES_CONFIGURATION_SET"`
	// SMTPURL is smtps://host[:465] (TLS from the first byte) or
	// smtp://host[:587] (STARTTLS, which the server must offer: credentials
	// and messages never cross the network in the clear).
	SMTPURL      string `env:"SMTP_URL"`
	SMTPUsername string `env:"SMTP_USERNAME"`
	// SMTPPasswordSecretID names the Secrets Manager secret holding the
	// relay's password (template.yaml's SmtpPasswordSecret); the password
	// is never an environment variable. WithPassword reads it.
	SMTPPasswordSecretID string `env:"SMTP_PASSWORD_SECRET_ID"`
	// SMTPPassword is the password WithPassword read (or a test's); errors
	// name it, never quote it.
	SMTPPassword string `env:"-"`
}

// SecretReader reads a secret by name (internal/secretstore).
type SecretReader interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// WithPassword returns t with the relay's password read from
// SMTPPasswordSecretID, when the relay is used with credentials; otherwise
// t as it is. The functions call it on every build of their handlers, so
// a changed password is picked up without a redeploy.
func (t Transport) WithPassword(ctx context.Context, src SecretReader) (Transport, error) {
	if !t.UsesSMTP() || t.SMTPUsername == "" || t.SMTPPasswordSecretID == "" {
		return t, nil
	}
	v, err := src.Secret(ctx, t.SMTPPasswordSecretID)
	if err != nil {
		return t, fmt.Errorf("SMTP_PASSWORD_SECRET_ID: %w", err)
	}
	if len(v) == 0 || strings.ContainsAny(string(v), "\r\n\x00") {
		return t, fmt.Errorf("SMTP_PASSWORD_SECRET_ID: secret %s is empty or has a control character", t.SMTPPasswordSecretID)
	}
	t.SMTPPassword = string(v)
	return t, nil
}

// UsesSMTP reports whether email goes through the SMTP relay.
func (t Transport) UsesSMTP() bool { return t.SMTPURL != "" }

// SMTPEndpoint is the relay's host:port and whether TLS starts at once
// (smtps) rather than by STARTTLS (smtp).
func (t Transport) SMTPEndpoint() (addr string, implicitTLS bool, err error) {
	u, err := url.Parse(t.SMTPURL)
	if err != nil {
		return "", false, errors.New("SMTP_URL is not a URL")
	}
	port := ""
	switch u.Scheme {
	case "smtps":
		implicitTLS, port = true, "465"
	case "smtp":
		port = "587"
	default:
		return "", false, errors.New("SMTP_URL must start with smtps:// (TLS) or smtp:// (STARTTLS)")
	}
	if u.User != nil {
		return "", false, errors.New("SMTP_URL must not hold credentials: use SMTP_USERNAME and SMTP_PASSWORD_SECRET_ID")
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, errors.New("SMTP_URL must be scheme://host[:port] and nothing more")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), implicitTLS, nil
}

// Check reports configuration mistakes by variable name, never a value.
func (t Transport) Check() error {
	// SMTP_PASSWORD_SECRET_ID alone is fine: the template names the
	// password's secret whether or not the relay is used.
	if !t.UsesSMTP() {
		if t.SMTPUsername != "" || t.SMTPPassword != "" {
			return errors.New("SMTP_USERNAME and the SMTP password are set but SMTP_URL is not")
		}
		return nil
	}
	if _, _, err := t.SMTPEndpoint(); err != nil {
		return err
	}
	// The template names the password's secret whatever the relay; it is
	// read only with a user name.
	if t.SMTPUsername != "" && t.SMTPPassword == "" && t.SMTPPasswordSecretID == "" ||
		t.SMTPUsername == "" && t.SMTPPassword != "" {
		return errors.New("SMTP_USERNAME and the SMTP password (SMTP_PASSWORD_SECRET_ID) go together: set both or neither")
	}
	if strings.ContainsAny(t.SMTPUsername, "\r\n\x00") {
		return errors.New("SMTP_USERNAME has a control character")
	}
	return nil
}
