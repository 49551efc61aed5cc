package notify

import (
	"errors"
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
	// SMTPPassword is a secret; errors name it, never quote it.
	SMTPPassword string `env:"SMTP_PASSWORD"`
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
		return "", false, errors.New("SMTP_URL must not hold credentials: use SMTP_USERNAME and SMTP_PASSWORD")
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
	if !t.UsesSMTP() {
		if t.SMTPUsername != "" || t.SMTPPassword != "" {
			return errors.New("SMTP_USERNAME and SMTP_PASSWORD are set but SMTP_URL is not")
		}
		return nil
	}
	if _, _, err := t.SMTPEndpoint(); err != nil {
		return err
	}
	if (t.SMTPUsername == "") != (t.SMTPPassword == "") {
		return errors.New("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither")
	}
	if strings.ContainsAny(t.SMTPUsername, "\r\n\x00") {
		return errors.New("SMTP_USERNAME has a control character")
	}
	return nil
}
