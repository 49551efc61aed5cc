package workflow

import (
	"encoding/json"
	"fmt"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/workday"
)

// Policy is the configuration the review and the reply follow (docs/ARCHITECTURE.md
// rule 6: configuration, not code).
type Policy struct {
	// RepeatLimit is how many requests of one subject within RepeatWindow are
	// answered without question; a request beyond it goes to manual review,
	// where an operator charges a fee or refuses (policy 五.5, 无端重复).
	RepeatLimit  int           `json:"repeatLimit"`
	RepeatWindow time.Duration `json:"-"`
	// BackupRotation is how long after live deletion every backup that may
	// hold the data has rotated out (policy 五.2, 在备份更新时). Until issue 6
	// configures backup systems, this single value is a placeholder.
	BackupRotation time.Duration `json:"-"`
	// DueRule is the reply deadline rule (zero: 15 Chinese working days).
	DueRule workday.Rule `json:"-"`
	// Retention lists what is kept despite a request, and why (policy 五.1:
	// legally required records). The partner issue adds per-partner entries.
	Retention []RetentionException `json:"retention"`
	// ExpireAfterDays is how long code verification may take before the
	// request expires (Admit gives it to Verify's TimeoutSecondsPath).
	ExpireAfterDays int `json:"-"`
	// ContactRetention is how long personal data is kept after the
	// request closes (CONTACT_RETENTION).
	ContactRetention time.Duration `json:"-"`
}

// RetentionException is data that a request of the listed kinds does not
// remove or return, with the reason, in each locale.
type RetentionException struct {
	Kinds  []dsr.Kind            `json:"kinds"`
	What   map[dsr.Locale]string `json:"what"`
	Reason map[dsr.Locale]string `json:"reason"`
}

// DefaultPolicy is the shipped policy.
func DefaultPolicy() Policy {
	erasing := []dsr.Kind{dsr.KindErasure, dsr.KindAccountClosure}
	return Policy{
		RepeatLimit:      3,
		RepeatWindow:     365 * 24 * time.Hour,
		BackupRotation:   35 * 24 * time.Hour,
		ExpireAfterDays:  7,
		ContactRetention: 30 * 24 * time.Hour,
		Retention: []RetentionException{
			{
				Kinds:  erasing,
				What:   map[dsr.Locale]string{dsr.LocaleZhCN: "本请求及其处理记录", dsr.LocaleEn: "The record of this request and how it was handled"},
				Reason: map[dsr.Locale]string{dsr.LocaleZhCN: "我们须保存个人信息保护合规记录，以便监管部门核查（《个人信息保护法》第五十四条、第五十五条）", dsr.LocaleEn: "we must keep records of how we handle personal information for regulators (PIPL art. 54 and 55)"},
			},
			{
				Kinds:  erasing,
				What:   map[dsr.Locale]string{dsr.LocaleZhCN: "网络日志", dsr.LocaleEn: "Network access logs"},
				Reason: map[dsr.Locale]string{dsr.LocaleZhCN: "法律要求留存不少于六个月（《网络安全法》第二十一条），到期后删除", dsr.LocaleEn: "the law requires us to keep them for at least six months (Cybersecurity Law art. 21); they are deleted afterwards"},
			},
		},
	}
}

// ParseRetention reads retention exceptions from JSON (the RETENTION_JSON
// setting), checking kinds and that every entry has texts in every locale.
func ParseRetention(b []byte) ([]RetentionException, error) {
	var out []RetentionException
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("retention exceptions: %w", err)
	}
	for i, e := range out {
		if len(e.Kinds) == 0 {
			return nil, fmt.Errorf("retention exception %d: kinds required", i)
		}
		for _, k := range e.Kinds {
			if !k.Valid() {
				return nil, fmt.Errorf("retention exception %d: unknown kind %q", i, k)
			}
		}
		for _, l := range dsr.Locales() {
			if e.What[l] == "" || e.Reason[l] == "" {
				return nil, fmt.Errorf("retention exception %d: what and reason required in %s", i, l)
			}
		}
	}
	return out, nil
}

func (p Policy) exceptions(k dsr.Kind) []RetentionException {
	var out []RetentionException
	for _, e := range p.Retention {
		for _, ek := range e.Kinds {
			if ek == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

func (p Policy) repeatWindow() time.Duration {
	if p.RepeatWindow > 0 {
		return p.RepeatWindow
	}
	return 365 * 24 * time.Hour
}

func (p Policy) contactRetention() time.Duration {
	if p.ContactRetention > 0 {
		return p.ContactRetention
	}
	return 30 * 24 * time.Hour
}

func (p Policy) expireAfterDays() int {
	if p.ExpireAfterDays > 0 {
		return p.ExpireAfterDays
	}
	return 7
}
