package smtpmail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

// relay is an in-process SMTP server (go-smtp's) that records what it got.
type relay struct {
	addr      string
	clientTLS *tls.Config // trusts the relay's certificate

	mu       sync.Mutex
	authed   []string // usernames that authenticated
	from, to []string
	data     [][]byte
	// rejectRcpt, when set, refuses every recipient with this error.
	rejectRcpt *smtp.SMTPError
	// stall, when set, makes DATA hang until the client goes away.
	stall bool
}

type session struct {
	r    *relay
	user string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "dsr@example.cn" || password != "relay-p4ss" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials for " + username}
		}
		s.user = username
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.authed = append(s.r.authed, s.user)
	s.r.from = append(s.r.from, from)
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.rejectRcpt != nil {
		return s.r.rejectRcpt
	}
	s.r.to = append(s.r.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	if s.r.stall {
		time.Sleep(2 * time.Second)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.data = append(s.r.data, b)
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// newRelay starts a relay on loopback: with implicit TLS (smtps), or
// plain with STARTTLS offered unless noStartTLS.
func newRelay(t *testing.T, implicit, noStartTLS bool) *relay {
	t.Helper()
	cert, pool := selfSigned(t)
	r := &relay{clientTLS: &tls.Config{RootCAs: pool}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }))
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case implicit:
		l = tls.NewListener(l, serverTLS)
	case noStartTLS:
		srv.AllowInsecureAuth = true
	default:
		srv.TLSConfig = serverTLS
	}
	r.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func message(t *testing.T) (notify.Message, []byte) {
	t.Helper()
	m := notify.VerificationCode("r-1", dsr.Contact{Email: "li@example.cn"}, dsr.LocaleZhCN, "123456", time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC), "")
	raw, err := notify.Compose(m, "隐私团队", "privacy@example.cn", time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return m, raw
}

func TestSendDelivers(t *testing.T) {
	for _, implicit := range []bool{true, false} {
		name := map[bool]string{true: "smtps", false: "starttls"}[implicit]
		t.Run(name, func(t *testing.T) {
			r := newRelay(t, implicit, false)
			s := &Sender{Addr: r.addr, ImplicitTLS: implicit, Username: "dsr@example.cn", Password: "relay-p4ss", From: "privacy@example.cn", TLSConfig: r.clientTLS}
			m, raw := message(t)
			router := &notify.Router{From: "privacy@example.cn", Email: s}
			if err := s.SendRaw(context.Background(), m, raw); err != nil {
				t.Fatalf("SendRaw: %v", err)
			}
			if ch, err := router.Send(context.Background(), m); err != nil || ch != notify.ChannelEmail {
				t.Fatalf("Router.Send through SMTP: %s, %v", ch, err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.data) != 2 || strings.Join(r.from, ",") != "privacy@example.cn,privacy@example.cn" || strings.Join(r.to, ",") != "li@example.cn,li@example.cn" || r.authed[0] != "dsr@example.cn" {
				t.Fatalf("relay got from=%v to=%v authed=%v messages=%d", r.from, r.to, r.authed, len(r.data))
			}
			// The relay receives the composed message as it was, CRLF lines.
			if !bytes.Equal(bytes.TrimRight(r.data[0], "\r\n"), bytes.TrimRight(raw, "\r\n")) {
				t.Errorf("message changed in transit:\n%q\nwant\n%q", r.data[0], raw)
			}
		})
	}
}

func TestSendFailuresKeepOnlyCodes(t *testing.T) {
	m, raw := message(t)
	tests := []struct {
		name  string
		setup func(t *testing.T) *Sender
		code  string
	}{
		{"recipient refused", func(t *testing.T) *Sender {
			r := newRelay(t, true, false)
			r.rejectRcpt = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user li@example.cn"}
			return &Sender{Addr: r.addr, ImplicitTLS: true, Username: "dsr@example.cn", Password: "relay-p4ss", From: "privacy@example.cn", TLSConfig: r.clientTLS}
		}, "smtp rcpt: 550 5.1.1"},
		{"bad password", func(t *testing.T) *Sender {
			r := newRelay(t, true, false)
			return &Sender{Addr: r.addr, ImplicitTLS: true, Username: "dsr@example.cn", Password: "wrong-p4ss", From: "privacy@example.cn", TLSConfig: r.clientTLS}
		}, "smtp auth: 535 5.7.8"},
		{"no STARTTLS offered: nothing sent in the clear", func(t *testing.T) *Sender {
			r := newRelay(t, false, true)
			return &Sender{Addr: r.addr, Username: "dsr@example.cn", Password: "relay-p4ss", From: "privacy@example.cn", TLSConfig: r.clientTLS}
		}, "smtp starttls"},
		{"untrusted certificate", func(t *testing.T) *Sender {
			r := newRelay(t, true, false)
			return &Sender{Addr: r.addr, ImplicitTLS: true, Username: "dsr@example.cn", Password: "relay-p4ss", From: "privacy@example.cn"}
		}, "smtp tls"},
		{"nothing listening", func(t *testing.T) *Sender {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			_ = l.Close()
			return &Sender{Addr: addr, ImplicitTLS: true, From: "privacy@example.cn"}
		}, "smtp connect"},
		{"relay too slow", func(t *testing.T) *Sender {
			r := newRelay(t, true, false)
			r.stall = true
			return &Sender{Addr: r.addr, ImplicitTLS: true, Username: "dsr@example.cn", Password: "relay-p4ss", From: "privacy@example.cn", TLSConfig: r.clientTLS, Timeout: 300 * time.Millisecond}
		}, "smtp data: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.setup(t).SendRaw(context.Background(), m, raw)
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Code != tt.code || de.RequestID != "r-1" || de.Channel != notify.ChannelEmail {
				t.Fatalf("SendRaw error = %#v; want a DeliveryError with code %q", err, tt.code)
			}
			for _, secret := range []string{"li@example.cn", "p4ss"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	s, err := New(notify.Transport{SMTPURL: "smtps://smtpdm.aliyun.com", SMTPUsername: "u", SMTPPassword: "p"}, "privacy@example.cn")
	if err != nil || s.Addr != "smtpdm.aliyun.com:465" || !s.ImplicitTLS || s.Username != "u" || s.From != "privacy@example.cn" {
		t.Fatalf("New = %+v, %v", s, err)
	}
	if _, err := New(notify.Transport{SMTPURL: "ftp://x"}, "privacy@example.cn"); err == nil {
		t.Fatal("New(ftp://) succeeded")
	}
}
