package partnersim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// What a simulated partner with records does with a request (Partner.act):
//
//	erase, close_account  remove the records matched; a partner with
//	                      retention exceptions keeps, of a matched record,
//	                      only the data its exceptions cover (retainedFields),
//	                      marked "retained": "<code>", if that data is not
//	                      empty. A retained record is left as it is.
//	export                {"partner": ID, "records": [the records matched]}
//	correct               set data.profile.<field> of the records matched
//	                      from the corrections (parseCorrections), only for
//	                      fields the profile has; Changed: "profile.<field>"
//	withdraw_consent      add the valid purposes to data.consent_withdrawn
//	                      (deduplicated, in order); Changed: "consent_withdrawn"
//
// A record matches when one of the request's subject identities (by
// identity_type) equals the record's identifier of that type; emails
// compare without case. Retained records are exported but never corrected,
// resolved or counted in the pre-check.

// retainedFields are the data fields a retention exception keeps after an
// erasure. An exception not listed keeps the field named like its code.
var retainedFields = map[string][]string{
	"transaction_records": {"orders"},
	"sms_delivery_logs":   {"sms_log"},
}

// matches reports whether rec is one of the subject's records.
func matches(rec Record, ids []partner.Identity) bool {
	for _, id := range ids {
		t, ok := partner.IdentifierTypeOf(id.Type)
		if !ok || id.Value == "" {
			continue
		}
		v := rec.identifier(t)
		if v == "" {
			continue
		}
		if v == id.Value || t == dsr.IdentifierEmail && strings.EqualFold(v, id.Value) {
			return true
		}
	}
	return false
}

// act carries out req on the records and completes resp.
func (r *Records) act(req partner.Request, resp *partner.Response) error {
	ids := req.SubjectIdentities
	// Whether the partner holds anything under these identities (the
	// protocol's subject_found): retained records count only for an
	// export, which returns them.
	found := false
	r.view(func(recs []Record) {
		for _, rec := range recs {
			if matches(rec, ids) && (rec.Retained == "" || req.SubjectRequestType == partner.ActionExport) {
				found = true
			}
		}
	})
	resp.SubjectFound = &found
	switch req.SubjectRequestType {
	case partner.ActionErase, partner.ActionCloseAccount:
		return r.update(func(recs []Record) ([]Record, bool) { return r.erase(recs, ids) })
	case partner.ActionExport:
		out := []Record{}
		r.view(func(recs []Record) {
			for _, rec := range recs {
				if matches(rec, ids) {
					out = append(out, rec.clone())
				}
			}
		})
		b, err := json.Marshal(map[string]any{"partner": r.partner.ID, "records": out})
		if err != nil {
			return err
		}
		resp.Export = b
	case partner.ActionCorrect:
		cs := parseCorrections(req.Corrections)
		var changed []string
		err := r.update(func(recs []Record) ([]Record, bool) {
			for i := range recs {
				if recs[i].Retained == "" && matches(recs[i], ids) {
					changed = append(changed, correct(&recs[i], cs)...)
				}
			}
			return recs, len(changed) > 0
		})
		if err != nil {
			return err
		}
		resp.Changed = dedupSorted(changed)
	case partner.ActionWithdrawConsent:
		var purposes []string
		for _, p := range req.ConsentPurposes {
			if dsr.ValidPurpose(p) && !slices.Contains(purposes, p) {
				purposes = append(purposes, p)
			}
		}
		changed := false
		err := r.update(func(recs []Record) ([]Record, bool) {
			for i := range recs {
				if recs[i].Retained == "" && matches(recs[i], ids) && withdraw(&recs[i], purposes) {
					changed = true
				}
			}
			return recs, changed
		})
		if err != nil {
			return err
		}
		if changed {
			resp.Changed = []string{"consent_withdrawn"}
		}
	}
	return nil
}

// erase removes the records matching ids, or keeps what the partner's
// retention exceptions cover.
func (r *Records) erase(recs []Record, ids []partner.Identity) ([]Record, bool) {
	out := recs[:0]
	changed := false
	for _, rec := range recs {
		if rec.Retained != "" || !matches(rec, ids) {
			out = append(out, rec)
			continue
		}
		changed = true
		kept := map[string]json.RawMessage{}
		var codes []string
		for _, x := range r.partner.RetentionExceptions {
			fields, ok := retainedFields[x.Code]
			if !ok {
				fields = []string{x.Code}
			}
			covered := false
			for _, f := range fields {
				if v, ok := rec.Data[f]; ok && !emptyJSON(v) {
					kept[f] = v
					covered = true
				}
			}
			if covered && code(x.Code) {
				codes = append(codes, x.Code)
			}
		}
		if len(codes) > 0 {
			rec.Data = kept
			rec.Retained = strings.Join(codes, ",")
			out = append(out, rec)
		}
	}
	return out, changed
}

// emptyJSON: null, "", [] or {}.
func emptyJSON(v json.RawMessage) bool {
	switch string(bytes.Join(bytes.Fields(v), nil)) {
	case "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// correction is one parsed correction: a profile field and its new value.
type correction struct{ field, value string }

// correctionFields name the profile fields a correction may change, by the
// words a requester writes for them (lower case, spaces, '_' and '-'
// removed).
var correctionFields = map[string]string{
	"nickname": "nickname", "nick": "nickname", "displayname": "nickname", "昵称": "nickname", "用户昵称": "nickname",
	"name": "real_name", "realname": "real_name", "fullname": "real_name", "姓名": "real_name", "真实姓名": "real_name", "名字": "real_name",
	"city": "city", "城市": "city", "所在地": "city", "所在城市": "city", "地区": "city",
	"signature": "signature", "bio": "signature", "签名": "signature", "个性签名": "signature", "个人简介": "signature", "简介": "signature",
}

// correctionSeps separate a field from its new value.
var correctionSeps = []string{":", "：", "=", "＝", "->", "→", "改为", "改成"}

// Limits on corrections.
const (
	maxCorrectionLines = 50
	maxCorrectionValue = 100 // characters
)

// parseCorrections reads the requester's corrections, one per line:
// "<field><sep><value>", where sep is the first of ':', '：', '=', '＝',
// '->', '→', '改为', '改成' in the line and field one of correctionFields
// ("昵称: 新名字", "nickname: New", "城市改为上海"); a leading 请, 把 or "my"
// is dropped, and one pair of quotes around the value. Lines that do not
// parse are ignored; for a field given twice the last value counts.
func parseCorrections(entries []string) []correction {
	var out []correction
	n := 0
	for _, e := range entries {
		for line := range strings.Lines(e) {
			if n++; n > maxCorrectionLines {
				return out
			}
			if c, ok := parseCorrection(line); ok {
				out = slices.DeleteFunc(out, func(o correction) bool { return o.field == c.field })
				out = append(out, c)
			}
		}
	}
	return out
}

func parseCorrection(line string) (correction, bool) {
	at, sep := -1, ""
	for _, s := range correctionSeps {
		if i := strings.Index(line, s); i >= 0 && (at < 0 || i < at) {
			at, sep = i, s
		}
	}
	if at < 0 {
		return correction{}, false
	}
	name := strings.TrimSpace(line[:at])
	for _, p := range []string{"请", "把", "my ", "My "} {
		name = strings.TrimSpace(strings.TrimPrefix(name, p))
	}
	name = strings.ToLower(strings.NewReplacer(" ", "", "_", "", "-", "").Replace(name))
	field, ok := correctionFields[name]
	if !ok {
		return correction{}, false
	}
	value := strings.TrimSpace(line[at+len(sep):])
	for _, q := range [][2]string{{`"`, `"`}, {"'", "'"}, {"“", "”"}, {"「", "」"}, {"‘", "’"}} {
		if len(value) >= len(q[0])+len(q[1]) && strings.HasPrefix(value, q[0]) && strings.HasSuffix(value, q[1]) {
			value = strings.TrimSpace(value[len(q[0]) : len(value)-len(q[1])])
			break
		}
	}
	if checkText(value, maxCorrectionValue, true) != nil || !utf8.ValidString(value) {
		return correction{}, false
	}
	return correction{field: field, value: value}, true
}

// correct applies cs to the fields rec's data.profile has and returns the
// changed fields.
func correct(rec *Record, cs []correction) []string {
	raw, ok := rec.Data["profile"]
	if !ok {
		return nil
	}
	var profile map[string]json.RawMessage
	if json.Unmarshal(raw, &profile) != nil || profile == nil {
		return nil
	}
	var changed []string
	for _, c := range cs {
		old, ok := profile[c.field]
		if !ok {
			continue
		}
		var cur string
		if json.Unmarshal(old, &cur) == nil && cur == c.value {
			continue
		}
		b, _ := json.Marshal(c.value)
		profile[c.field] = b
		changed = append(changed, "profile."+c.field)
	}
	if len(changed) > 0 {
		rec.Data["profile"], _ = json.Marshal(profile)
	}
	return changed
}

// withdraw adds purposes to rec's data.consent_withdrawn and reports
// whether any was new.
func withdraw(rec *Record, purposes []string) bool {
	var have []string
	if raw, ok := rec.Data["consent_withdrawn"]; ok {
		_ = json.Unmarshal(raw, &have)
	}
	added := false
	for _, p := range purposes {
		if !slices.Contains(have, p) {
			have = append(have, p)
			added = true
		}
	}
	if added {
		rec.Data["consent_withdrawn"], _ = json.Marshal(have)
	}
	return added
}

func dedupSorted(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// resolve returns the accounts of the records matching ids, with every
// identifier the partner keeps for each (controller_customer_id, email,
// phone_number), sorted by account ID, at most
// partner.MaxResolvedAccounts. Retained records belong to closed accounts
// and are not resolved.
func (r *Records) resolve(ids []partner.Identity) []partner.ResolvedAccount {
	byAccount := map[string]*partner.ResolvedAccount{}
	var order []string
	r.view(func(recs []Record) {
		// First the accounts matched, then every identifier of theirs.
		for _, rec := range recs {
			if rec.Account != "" && rec.Retained == "" && matches(rec, ids) && byAccount[rec.Account] == nil {
				byAccount[rec.Account] = &partner.ResolvedAccount{AccountID: rec.Account}
				order = append(order, rec.Account)
			}
		}
		for _, rec := range recs {
			a := byAccount[rec.Account]
			if a == nil || rec.Retained != "" {
				continue
			}
			for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
				if v := rec.identifier(t); v != "" {
					id := partner.Identity{Type: partner.WireIdentityType(t), Value: v, Format: "raw"}
					if !slices.Contains(a.Identities, id) && len(a.Identities) < partner.MaxResolvedIdentities {
						a.Identities = append(a.Identities, id)
					}
				}
			}
		}
	})
	slices.Sort(order)
	out := []partner.ResolvedAccount{}
	for _, acc := range order {
		if len(out) == partner.MaxResolvedAccounts {
			break
		}
		out = append(out, *byAccount[acc])
	}
	return out
}

// obligations derives the pre-check's obligations from the records
// matching ids: an order whose status is "pending" is
// partner.ObligationPendingOrder; a subscription whose status is "unpaid"
// is partner.ObligationUnpaidSubscription.
func (r *Records) obligations(ids []partner.Identity) []string {
	var out []string
	r.view(func(recs []Record) {
		for _, rec := range recs {
			if rec.Retained != "" || !matches(rec, ids) {
				continue
			}
			var orders []struct {
				Status string `json:"status"`
			}
			if raw, ok := rec.Data["orders"]; ok && json.Unmarshal(raw, &orders) == nil {
				for _, o := range orders {
					if o.Status == "pending" {
						out = append(out, partner.ObligationPendingOrder)
					}
				}
			}
			var sub struct {
				Status string `json:"status"`
			}
			if raw, ok := rec.Data["subscription"]; ok && json.Unmarshal(raw, &sub) == nil && sub.Status == "unpaid" {
				out = append(out, partner.ObligationUnpaidSubscription)
			}
		}
	})
	return dedupSorted(out)
}
