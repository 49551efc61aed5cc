package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Outbox writes every message as an .eml file into Dir instead of sending
// it: the local stack's stand-in for SES and the SMS provider. A text message
// is written as an email to <phone>@sms.invalid with an X-Dsrflow-Channel:
// sms header, so one folder shows everything the requester would receive.
//
// Files are named <UTC time>-<sequence>-<request ID>-<template>-<random>.eml,
// so that names sort in the order of writing, and written atomically (a
// temporary file renamed into place).
type Outbox struct {
	Dir      string
	From     string
	FromName string
	Now      func() time.Time

	seq atomic.Uint64
}

// SendRaw writes a composed email.
func (o *Outbox) SendRaw(ctx context.Context, m Message, raw []byte) error {
	return o.write(m, raw, ChannelEmail)
}

// SendSMS writes a text message as an email to <phone>@sms.invalid. Its
// body is the SMS text (m.SMS.Text) when the message has one, as a
// provider would send it, and its subject names the template; a message
// built without an SMS form keeps its email subject and body.
func (o *Outbox) SendSMS(ctx context.Context, m Message) error {
	sms := m
	sms.To.Email = m.To.Phone + "@sms.invalid"
	if m.SMS.Text != "" {
		sms.Subject, sms.Body = "SMS "+m.SMS.Template, m.SMS.Text+"\n"
	}
	raw, err := Compose(sms, o.FromName, o.From, o.now())
	if err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ChannelSMS, Code: "compose", Err: err}
	}
	return o.write(m, raw, ChannelSMS)
}

func (o *Outbox) write(m Message, raw []byte, ch Channel) error {
	if ch == ChannelSMS {
		raw = append([]byte("X-Dsrflow-Channel: sms\r\n"), raw...)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "outbox folder", Err: err}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%s-%06d-%s-%s-%s.eml", o.now().UTC().Format("20060102T150405.000000000Z"), o.seq.Add(1), m.RequestID, m.Template, hex.EncodeToString(rnd[:]))
	tmp, err := os.CreateTemp(o.Dir, ".outbox-*")
	if err != nil {
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "outbox write", Err: err}
	}
	_, werr := tmp.Write(raw)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "outbox write", Err: fmt.Errorf("write: %v, close: %v", werr, cerr)}
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.Dir, name)); err != nil {
		os.Remove(tmp.Name())
		return &DeliveryError{RequestID: m.RequestID, Channel: ch, Code: "outbox rename", Err: err}
	}
	return nil
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
