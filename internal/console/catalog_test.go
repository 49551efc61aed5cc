package console

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
)

var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*[sdvq]`)

// TestCatalog: every text exists in both languages with the same verbs,
// and every key the pages and handlers use is in the catalog.
func TestCatalog(t *testing.T) {
	for key, txt := range catalog {
		if txt.ZhCN == "" || txt.En == "" {
			t.Errorf("%s: a language is missing", key)
		}
		if zh, en := verbRE.FindAllString(txt.ZhCN, -1), verbRE.FindAllString(txt.En, -1); strings.Join(zh, "") != strings.Join(en, "") {
			t.Errorf("%s: verbs %v (zh-CN) and %v (en)", key, zh, en)
		}
	}
	used := map[string]bool{}
	literal := regexp.MustCompile(`(?:p\.T|text\(l|text\(p\.Locale|doneText\(l|\.message\(w, r, l, [a-zA-Z.]+)\(?,? ?"([a-zA-Z0-9_.]+)"`)
	key := regexp.MustCompile(`"((?:errors|fail|done|nav|queue|search|request|decision|deadline|extension|info|amend|partners?|backups|hold|notices|docs?|timeline|mail|report|denied|col|what|cause|due|lang|site|list)\.[a-zA-Z0-9_.]+)"`)
	files, _ := os.ReadDir(".")
	for _, f := range files {
		name := f.Name()
		if strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_templ.go") || name == "catalog.go" || !(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".templ")) {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				used[m[1]] = true
			}
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				used[m[1]] = true
			}
		}
	}
	// Keys built from codes.
	add := func(prefix string, codes ...string) {
		for _, c := range codes {
			used[prefix+c] = true
		}
	}
	for _, s := range dsr.Statuses() {
		add("status.", string(s))
	}
	add("kind.", kinds()...)
	for _, c := range dsr.Channels() {
		add("channel.", string(c))
	}
	add("what.", itemVerification, itemIdentity, itemReview, itemPartners, itemBackups, itemMail)
	add("decision.hint.", itemVerification, itemIdentity, itemReview)
	add("cause.", "attachments", "no_contact", "no_delivery_channel", "identity_mismatch", "several_accounts", "no_subject_identifier", "resolution_failed", "repeat_limit")
	for _, s := range store.PartnerStatuses() {
		add("partner.", string(s))
	}
	add("settlement.", settlements()...)
	add("holdAction.", holdActions()...)
	add("info.", infoNeeds()...)
	add("extension.", extensionReasons()...)
	add("ignore.", IgnoreReasons()...)
	add("mail.resolution.", ResolutionConverted, ResolutionLinked, ResolutionIgnored)
	add("mail.unreadable.", "too_large", "gone", "denied", "unparseable")
	add("deadline.rule.", string(workday.CN), string(workday.GDPR), string(workday.CCPA))
	add("info.noPause.", string(workday.CN), string(workday.GDPR), string(workday.CCPA))
	add("deadline.units.", string(workday.Months), string(workday.CalendarDays), string(workday.WorkingDays))
	add("amend.problem.", "accounts", "emails", "phones", "count", "none")
	add("notice.", store.NoticeSending, store.NoticeSent)
	add("template.", notify.TemplateVerificationCode, notify.TemplateVerificationLocked, notify.TemplateExpired, notify.TemplateRefused,
		notify.TemplateDuplicate, notify.TemplateReply, notify.TemplateReplyPartial, notify.TemplateFinalConfirmation,
		notify.TemplateDeadlineExtended, notify.TemplateMoreInformation)
	for k := range used {
		if _, ok := catalog[k]; !ok {
			t.Errorf("key %q is used but not in the catalog", k)
		}
	}
	if len(used) < 200 {
		t.Errorf("only %d keys found in use: the scan is broken", len(used))
	}
}
