// Package smtpmail sends composed email through an SMTP relay with
// github.com/emersion/go-smtp: the notify.EmailSender for the China regions,
// where Amazon SES is not offered (Alibaba Cloud DirectMail, Tencent Cloud
// SES and enterprise mail servers all accept authenticated SMTP).
//
// The connection is always encrypted: smtps:// starts TLS at once, smtp://
// requires the server to offer STARTTLS and refuses to go on otherwise, so
// neither the password nor a requester's message crosses the network in the
// clear. Each message is one connection (the functions send a handful of
// messages per invocation at most).
//
// Errors keep only the SMTP reply code and enhanced status code ("550
// 5.1.1"): servers' reply texts may quote the recipient's address.
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dsrflow/internal/notify"
)

// DefaultTimeout bounds one message: connect, TLS, AUTH and the transfer.
const DefaultTimeout = 30 * time.Second

// Sender sends email through one SMTP relay.
type Sender struct {
	// Addr is the relay's host:port.
	Addr string
	// ImplicitTLS: TLS from the first byte (smtps, port 465); otherwise
	// STARTTLS, which must be offered.
	ImplicitTLS bool
	// Username and Password authenticate (AUTH PLAIN, or LOGIN when the
	// relay offers only that); empty: no AUTH.
	Username, Password string
	// From is the envelope sender (MAIL FROM), the address of MAIL_FROM.
	From string
	// TLSConfig is nil for the system's roots and the host of Addr.
	TLSConfig *tls.Config
	// Timeout bounds one message; 0 means DefaultTimeout.
	Timeout time.Duration
}

// New is a Sender for t (t.UsesSMTP must be true) with envelope sender from.
func New(t notify.Transport, from string) (*Sender, error) {
	addr, implicit, err := t.SMTPEndpoint()
	if err != nil {
		return nil, err
	}
	return &Sender{Addr: addr, ImplicitTLS: implicit, Username: t.SMTPUsername, Password: t.SMTPPassword, From: from}, nil
}

// SendRaw sends raw to m's address. An error is a *notify.DeliveryError
// whose Code says which step failed and, for a refusal, the SMTP codes.
func (s *Sender) SendRaw(ctx context.Context, m notify.Message, raw []byte) error {
	if err := s.send(ctx, m.To.Email, raw); err != nil {
		return &notify.DeliveryError{RequestID: m.RequestID, Channel: notify.ChannelEmail, Code: err.Error(), Err: err}
	}
	return nil
}

// stepError is a failed step, described without anything the server said
// beyond its codes.
type stepError struct {
	step string
	code string
}

func (e *stepError) Error() string {
	if e.code == "" {
		return "smtp " + e.step
	}
	return "smtp " + e.step + ": " + e.code
}

// failed describes err at step: the reply codes of an *smtp.SMTPError, the
// context's error, or nothing more (network and TLS errors can name hosts
// but never a requester; they are still left out, to keep codes stable).
func failed(ctx context.Context, step string, err error) error {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se):
		code := fmt.Sprint(se.Code)
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
			code += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return &stepError{step: step, code: code}
	case ctx.Err() != nil:
		return &stepError{step: step, code: ctx.Err().Error()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &stepError{step: step, code: "timeout"}
	}
	return &stepError{step: step}
}

func (s *Sender) send(ctx context.Context, to string, raw []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return &stepError{step: "address"}
	}
	tlsConfig := s.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	tlsConfig.MinVersion = max(tlsConfig.MinVersion, tls.VersionTLS12)

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return failed(ctx, "connect", err)
	}
	// The connection follows ctx: its deadline, and closing it on cancel.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	var c *smtp.Client
	if s.ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return failed(ctx, "tls", err)
		}
		c = smtp.NewClient(tc)
	} else {
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			_ = conn.Close()
			return failed(ctx, "starttls", err)
		}
	}
	defer c.Close()
	if s.Username != "" {
		var auth sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			auth = sasl.NewPlainClient("", s.Username, s.Password)
		case c.SupportsAuth(sasl.Login):
			auth = sasl.NewLoginClient(s.Username, s.Password)
		default:
			return &stepError{step: "auth", code: "no PLAIN or LOGIN mechanism offered"}
		}
		if err := c.Auth(auth); err != nil {
			return failed(ctx, "auth", err)
		}
	}
	if err := c.Mail(s.From, nil); err != nil {
		return failed(ctx, "mail", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return failed(ctx, "rcpt", err)
	}
	w, err := c.Data()
	if err != nil {
		return failed(ctx, "data", err)
	}
	if _, err := w.Write(raw); err != nil {
		_ = w.Close()
		return failed(ctx, "data", err)
	}
	if err := w.Close(); err != nil {
		return failed(ctx, "data", err)
	}
	// The message was accepted at the end of DATA; a failed QUIT does not
	// unsend it.
	_ = c.Quit()
	return nil
}
