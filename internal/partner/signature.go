package partner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Signing (docs/ARCHITECTURE.md, "Partners"), in the manner of Stripe's webhook
// signatures: both directions (our requests to partners, their callbacks to
// us) carry
//
//	X-DSR-Timestamp: <unix seconds>
//	X-DSR-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
//
// The receiver recomputes the HMAC over the raw bytes it received, before
// parsing them, compares in constant time, and refuses timestamps more than
// the replay window away from its clock. Several v1= entries separated by
// commas are accepted, so a secret can be rotated without downtime.
const (
	HeaderTimestamp = "X-DSR-Timestamp"
	HeaderSignature = "X-DSR-Signature"
	// ReplayWindow is how far a timestamp may be from the receiver's clock.
	ReplayWindow = 5 * time.Minute
)

// Signature errors. They say what is wrong without echoing anything received.
var (
	ErrMissingSignature = errors.New("missing signature or timestamp")
	ErrBadSignature     = errors.New("signature does not match")
	ErrStaleTimestamp   = errors.New("timestamp outside the replay window")
)

// Sign returns the X-DSR-Signature value for body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the timestamp and signature headers of body at time now.
// It returns ErrMissingSignature, ErrStaleTimestamp or ErrBadSignature.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	if timestamp == "" || signature == "" {
		return ErrMissingSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > ReplayWindow || skew < -ReplayWindow {
		return ErrStaleTimestamp
	}
	want := mac(secret, timestamp, body)
	found := false
	for part := range strings.SplitSeq(signature, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(v)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			found = true
		}
	}
	if !found {
		return ErrBadSignature
	}
	return nil
}
