package smsaliyun

import (
	"net/url"
	"testing"
)

// TestAuthorizationDocVector signs the example request of Alibaba Cloud's
// "V3 request structure and signature" documentation (RunInstances on ECS,
// parameters in the query, empty body) with its example credentials
// (YourAccessKeyId / YourAccessKeySecret); the documentation's example
// Authorization header is the expected value.
func TestAuthorizationDocVector(t *testing.T) {
	in := signInput{
		method: "POST",
		path:   "/",
		query:  url.Values{"ImageId": {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"}, "RegionId": {"cn-shanghai"}},
		headers: map[string]string{
			"host":                  "ecs.cn-shanghai.aliyuncs.com",
			"x-acs-action":          "RunInstances",
			"x-acs-version":         "2014-05-26",
			"x-acs-date":            "2023-10-26T09:01:01Z",
			"x-acs-signature-nonce": "d410180a5abf7fe235dd9b74aca91fc0",
			"x-acs-content-sha256":  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
		payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
	const want = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
	if got := authorization(in, "YourAccessKeyId", "YourAccessKeySecret"); got != want {
		t.Errorf("authorization =\n %s\nwant\n %s", got, want)
	}
	if got := payloadHash(nil); got != in.payloadHash {
		t.Errorf("payloadHash(empty) = %s, want %s", got, in.payloadHash)
	}
}

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b+c*d", "a%20b%2Bc%2Ad"},
		{`{"code":"1"}`, "%7B%22code%22%3A%221%22%7D"},
		{"签名", "%E7%AD%BE%E5%90%8D"},
		{"/=&", "%2F%3D%26"},
	}
	for _, tt := range tests {
		if got := percentEncode(tt.in); got != tt.want {
			t.Errorf("percentEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := canonicalQuery(url.Values{"b": {"2", "1"}, "a": {""}}), "a=&b=1&b=2"; got != want {
		t.Errorf("canonicalQuery = %q, want %q", got, want)
	}
}
