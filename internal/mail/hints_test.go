package mail

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"dsrflow/internal/dsr"
)

func TestExtractHints(t *testing.T) {
	k := func(ks ...dsr.Kind) []dsr.Kind { return ks }
	tests := []struct {
		name  string
		text  string
		kinds []dsr.Kind
		want  Hints
	}{
		{"labelled account ids", "账号 10000001\naccount ID: 10000002, UID 10000003, 帳號ID：10000004", nil, Hints{AccountIDs: []string{"10000001", "10000002", "10000003", "10000004"}}},
		{"strong label takes letters", "account ID: singer_fan", nil, Hints{AccountIDs: []string{"singer_fan"}}},
		{"weak label needs a digit", "my account is closed; 我的账号登录不了", nil, Hints{}},
		{"unlabelled number is not an account", "订单 10000001", nil, Hints{}},
		{"phones in E.164", "手机 139 0000 1234，+852 6123 4567，+886 912 345 678", nil, Hints{Phones: []string{"+8613900001234", "+85261234567", "+886912345678"}}},
		{"an ID card number is not a phone", "身份证号 110101199003077777", nil, Hints{}},
		{"an account ID is not a phone", "账号 13800001111", nil, Hints{AccountIDs: []string{"13800001111"}}},
		{"emails other than the sender and recipients", "her email is Mom@Example.com; write to privacy@singer.example.cn or me@example.com", nil, Hints{Emails: []string{"mom@example.com"}}},
		{"corrections only for a correction", "请把手机号改成13700001234。", k(dsr.KindCorrection), Hints{Phones: []string{"+8613700001234"}, Corrections: []string{"请把手机号改成13700001234。"}}},
		{"no corrections for an erasure", "请把手机号改成13700001234。", k(dsr.KindErasure), Hints{Phones: []string{"+8613700001234"}}},
		{"greeting dropped", "你好，请把我的昵称改成“小鹿”。", k(dsr.KindCorrection), Hints{Corrections: []string{"请把我的昵称改成“小鹿”。"}}},
		{"purposes", "I withdraw my consent to analytics and to sharing with partners.", k(dsr.KindConsentWithdrawal), Hints{Purposes: []string{dsr.PurposeAnalytics, dsr.PurposePartnerSharing}}},
		{"all alone", "我撤回全部授权，包括统计分析。", k(dsr.KindConsentWithdrawal), Hints{Purposes: []string{dsr.PurposeAll}}},
		{"purposes only from the withdrawal sentence", "Do you share data with third parties? I withdraw my consent to analytics.", k(dsr.KindConsentWithdrawal), Hints{Purposes: []string{dsr.PurposeAnalytics}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extractHints(tt.text, "me@example.com", []string{"privacy@singer.example.cn"}, tt.kinds)
			if !reflect.DeepEqual(normHints(got), normHints(tt.want)) {
				t.Errorf("hints %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHintsAreLimited(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "账号 %d，手机 1390000%04d，x%d@example.com\n", 10000000+i, i, i)
	}
	h := extractHints(b.String(), "", nil, nil)
	if len(h.AccountIDs) != MaxHints || len(h.Phones) != MaxHints || len(h.Emails) != MaxHints {
		t.Errorf("got %d accounts, %d phones, %d emails; want %d each", len(h.AccountIDs), len(h.Phones), len(h.Emails), MaxHints)
	}
}

// TestHintsFromOwnTextOnly: quoted text and signatures give no hints.
func TestHintsFromOwnTextOnly(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: delete\r\n\r\nPlease delete my data, account ID 10000001.\r\n\r\nRegards,\r\nAnn\r\nT +852 6123 4567\r\n\r\nOn Mon, B <b@x.com> wrote:\r\n> my account ID is 10000009, phone 13900001234, c@x.com\r\n"
	msg, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := Classify(msg, Verdicts{})
	want := Hints{AccountIDs: []string{"10000001"}}
	if !reflect.DeepEqual(normHints(c.Hints), normHints(want)) {
		t.Errorf("hints %+v, want %+v", c.Hints, want)
	}
}
