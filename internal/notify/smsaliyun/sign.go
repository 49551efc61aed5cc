package smsaliyun

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// signatureAlgorithm is Alibaba Cloud's V3 request signature (ACS3), the
// one its documentation recommends over the V2 (RPC, HMAC-SHA1) signature:
// "Request syntax and signature method V3" (help.aliyun.com, SDK product
// overview).
const signatureAlgorithm = "ACS3-HMAC-SHA256"

// signInput is what the V3 signature covers.
type signInput struct {
	method string
	// path is the request path ("/" for RPC-style APIs such as SendSms).
	path  string
	query url.Values
	// headers are the headers to sign, with lower-case names: host,
	// content-type and every x-acs-* header.
	headers map[string]string
	// payloadHash is hex(SHA-256(body)), also sent as x-acs-content-sha256.
	payloadHash string
}

// authorization is the Authorization header value for in, signed with the
// secret of accessKeyID:
//
//	CanonicalRequest = method \n path \n query \n headers \n signed-headers \n payload-hash
//	StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA-256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(secret, StringToSign))
//
// where query is the parameters sorted by name, names and values
// percent-encoded as RFC 3986 says (only A–Z a–z 0–9 - _ . ~ left as they
// are), joined by '&'; headers are "name:trimmed value\n" sorted by name;
// and signed-headers their names joined by ';'.
func authorization(in signInput, accessKeyID, secret string) string {
	names := make([]string, 0, len(in.headers))
	for k := range in.headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + strings.TrimSpace(in.headers[k]) + "\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{in.method, in.path, canonicalQuery(in.query), canonHeaders.String(), signed, in.payloadHash}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signatureAlgorithm + "\n" + hex.EncodeToString(sum[:])))
	return signatureAlgorithm + " Credential=" + accessKeyID + ",SignedHeaders=" + signed + ",Signature=" + hex.EncodeToString(mac.Sum(nil))
}

// canonicalQuery is q sorted by name and percent-encoded (percentEncode);
// a parameter with several values appears once per value, values sorted.
func canonicalQuery(q url.Values) string {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, percentEncode(k)+"="+percentEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// percentEncode encodes s as RFC 3986 says: every byte except the
// unreserved A–Z a–z 0–9 - _ . ~ as %XY (upper-case hex); a space is %20,
// not '+'.
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// payloadHash is hex(SHA-256(body)).
func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
