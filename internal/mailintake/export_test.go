package mailintake

import "dsrflow/internal/mail"

// SetParse replaces the MIME reader for a test and returns a function that
// restores it.
func SetParse(f func([]byte) (*mail.Message, error)) (restore func()) {
	old := parse
	parse = f
	return func() { parse = old }
}

// MailboxOf is mailboxOf, for its table test.
var MailboxOf = mailboxOf
