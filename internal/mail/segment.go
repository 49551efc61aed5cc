package mail

import (
	"regexp"
	"strings"
	"sync"
)

// segments are the parts of a body by who wrote them. Only Own is what the
// sender wrote for this message: the rules decide the kind from it, and hints
// come from it. Signature and Disclaimer are the sender's too but say nothing
// about the request (a disclaimer's "please delete this message" is not an
// erasure request); Quoted is an earlier message in the thread; Forwarded an
// earlier message sent on, with its sender.
type segments struct {
	Own        string
	Signature  string
	Disclaimer string
	Quoted     string
	Forwarded  string
	// ForwardedFrom is the forwarded message's sender address ("" when the
	// forward header block names none).
	ForwardedFrom string
	// HasForward is true when a forwarded message was found.
	HasForward bool
}

// lineKind is what one line of a body starts or is.
type lineKind int

const (
	lineText         lineKind = iota
	lineQuoted                // "> ..."
	lineAttribution           // "On ... wrote:" / "在 ... 写道："
	lineQuoteStart            // a separator after which an earlier message follows unprefixed
	lineForwardStart          // a forwarded-message marker
	lineSigStart              // "-- ", a dash line, a closing ("Best regards", "此致")
	lineSigLine               // a client's signature line ("Sent from my iPhone")
	lineDisclaimer            // the first line of a legal disclaimer
)

// segmentRule recognizes a kind of line in lower-cased, trimmed text. Add a
// line to extend; segment_test.go has a case for each.
type segmentRule struct {
	kind lineKind
	re   *regexp.Regexp
}

var segmentRules = sync.OnceValue(func() []segmentRule {
	return []segmentRule{
		{lineForwardStart, regexp.MustCompile(`^-{2,}\s*(forwarded message|original message follows)\s*-{2,}$|^begin forwarded message:?$|^-{2,}\s*(转发邮件信息|转发的邮件|转发邮件|轉寄郵件|轉寄的郵件)\s*-{2,}$`)},
		{lineQuoteStart, regexp.MustCompile(`^-{2,}\s*(original message|原始邮件|原始郵件|original|回复的原邮件)\s*-{2,}$|^_{10,}$`)},
		{lineAttribution, regexp.MustCompile(`^(on\b.{0,200}\bwrote:|.{0,200}(写道|寫道)\s*[:：]|.{0,200}\bschrieb:|le .{0,200} a écrit\s*:)$`)},
		{lineSigLine, regexp.MustCompile(`^(sent from my \w+|sent from (mail|outlook) for \w+|get outlook for \w+|发自我的\S+|从我的\s?\S+\s?发送|发自网易邮箱大师|发自.{1,12}(邮箱|邮件|手机)|來自我的\S+|从.{1,12}发送)$`)},
		{lineSigStart, regexp.MustCompile(`^(--|-- |—{2,}|-{4,}|_{2,9}|(best|kind|warm)?\s*regards,?|best( wishes)?,?|all the best,?|cheers,?|thanks( again)?[,!.]?|thank you[,!.]?|many thanks,?|sincerely,?|yours (sincerely|faithfully|truly),?|此致|敬礼|敬禮|顺颂商祺|順頌商祺|顺祝商祺|祝好[!！]?|谢谢[!！。]?|謝謝[!！。]?|感谢[!！。]?|感謝[!！。]?|敬上|谨启|謹啟|唔该|唔該)$`)},
		{lineDisclaimer, regexp.MustCompile(`^(confidentiality notice|disclaimer|this (e-?mail|message) and any (attachments|files)|this (e-?mail|message) (is|may be) (confidential|privileged)|免责声明|免責聲明|本邮件及其附件|本郵件及其附件|此邮件(含有|包含)|保密声明)`)},
	}
})

func classifyLine(line string) lineKind {
	t := strings.ToLower(strings.TrimSpace(line))
	if strings.HasPrefix(t, ">") {
		return lineQuoted
	}
	for _, r := range segmentRules() {
		if r.re.MatchString(t) {
			return r.kind
		}
	}
	return lineText
}

// headerBlockStart matches the first line of the header block Outlook and
// others write above a quoted or forwarded message without a separator line.
var headerBlockStart = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(from|发件人|寄件者|寄件人)\s*[:：]`)
})

// headerBlockField matches the fields that follow it.
var headerBlockField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(sent|date|to|subject|cc|发送时间|发送日期|时间|日期|收件人|抄送|主题|寄件日期|收件者|副本|主旨)\s*[:：]`)
})

// isHeaderBlock reports whether lines[i] starts a "From: / Sent: / To: /
// Subject:" block (two more fields within the next four lines).
func isHeaderBlock(lines []string, i int) bool {
	if !headerBlockStart().MatchString(strings.ToLower(strings.TrimSpace(lines[i]))) {
		return false
	}
	n := 0
	for j := i + 1; j < len(lines) && j <= i+5; j++ {
		if headerBlockField().MatchString(strings.ToLower(strings.TrimSpace(lines[j]))) {
			n++
		}
	}
	return n >= 2
}

// forwardSubject is a subject that says the message is forwarded.
var forwardSubject = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^\s*(fw|fwd|转发|轉寄|转寄|wg|tr)\s*[:：]`)
})

// segmentBody splits text into segments. subject tells a forward ("Fwd:")
// from a reply where the client marks both alike (Outlook's "From: ..."
// block after a line of underscores).
func segmentBody(text, subject string) segments {
	var s segments
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var own, sig, disc, quoted []string
	isForward := forwardSubject().MatchString(subject)
	rest := func(i int, forward bool) {
		block := strings.Join(lines[i:], "\n")
		if forward {
			s.HasForward = true
			s.ForwardedFrom = forwardSender(lines[i:])
			s.Forwarded = strings.Join(skipHeaderBlock(lines[i:]), "\n")
		} else {
			quoted = append(quoted, block)
		}
	}
	state := lineText
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		kind := classifyLine(line)
		if kind == lineText && isHeaderBlock(lines, i) {
			rest(i, isForward)
			break
		}
		switch kind {
		case lineForwardStart:
			rest(i+1, true)
			i = len(lines)
			continue
		case lineQuoteStart:
			rest(i+1, isForward)
			i = len(lines)
			continue
		case lineAttribution:
			// Followed by "> " lines: skip the attribution, keep reading
			// (the sender may write below the quote). Otherwise the rest is
			// the earlier message, unprefixed.
			if next := nextNonEmpty(lines, i+1); next < 0 || !strings.HasPrefix(strings.TrimSpace(lines[next]), ">") {
				rest(i+1, false)
				i = len(lines)
			}
			continue
		case lineQuoted:
			quoted = append(quoted, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), ">")))
			continue
		case lineSigLine:
			sig = append(sig, line)
			continue
		case lineSigStart:
			if state == lineText {
				state = lineSigStart
			}
			continue
		case lineDisclaimer:
			state = lineDisclaimer
		}
		switch state {
		case lineSigStart:
			sig = append(sig, line)
		case lineDisclaimer:
			disc = append(disc, line)
		default:
			own = append(own, line)
		}
	}
	s.Own = strings.TrimSpace(strings.Join(own, "\n"))
	s.Signature = strings.TrimSpace(strings.Join(sig, "\n"))
	s.Disclaimer = strings.TrimSpace(strings.Join(disc, "\n"))
	s.Quoted = strings.TrimSpace(strings.Join(quoted, "\n"))
	return s
}

// skipHeaderBlock drops the "From: / Date: / Subject: / To:" lines (and
// blank lines) at the start of a forwarded or quoted message.
func skipHeaderBlock(lines []string) []string {
	i := 0
	for i < len(lines) {
		t := strings.ToLower(strings.TrimSpace(lines[i]))
		if t == "" || headerBlockStart().MatchString(t) || headerBlockField().MatchString(t) {
			i++
			continue
		}
		break
	}
	return lines[i:]
}

func nextNonEmpty(lines []string, from int) int {
	for j := from; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

// forwardSender is the address in the first "From:" / "发件人：" line of a
// forwarded block.
func forwardSender(lines []string) string {
	for i, l := range lines {
		if i > 8 {
			break
		}
		t := strings.TrimSpace(l)
		if headerBlockStart().MatchString(strings.ToLower(t)) {
			return looseAddress(t)
		}
	}
	return ""
}
