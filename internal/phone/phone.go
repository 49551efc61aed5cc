// Package phone reads phone numbers typed by people into E.164 form, with
// github.com/nyaruka/phonenumbers (Google's libphonenumber metadata),
// used as released upstream.
//
// It is a package of its own because the library decodes all of its metadata
// when the program starts (package initialisation: about three hello-world
// cold starts, and most of a function's binary size). The programs that read
// numbers people typed without a person waiting on their cold start
// (intake-mail, the console, the dsr CLI) import it and hand Parse to
// dsr.Submission.Validate. intake-web, which a person waits on, reads the
// form's numbers with internal/e164 instead, which this package's
// differential tests hold to the same results. The workflow functions only
// ever see numbers already in E.164 form and do not link it.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is the error of Parse. Its messages never contain the number.
var ErrInvalid = errors.New("invalid phone number")

// DefaultRegion is the region assumed for a number written without a country
// code: the service's users are in mainland China.
const DefaultRegion = "CN"

// maxInputLen is generous for spaces, dashes, brackets and a 00 prefix.
const maxInputLen = 40

// Parse checks a phone number and returns it in E.164 form ("+8613800138000").
// A number without a country code is read as a mainland China number. Spaces,
// dashes, brackets, full-width digits and the 00 international prefix are
// accepted; the number must be valid for its region according to
// libphonenumber's metadata, and must not carry an extension (it could not
// receive a text message).
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > maxInputLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxInputLen)
	}
	num, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("%w: not a phone number", ErrInvalid)
	}
	if num.GetExtension() != "" {
		return "", fmt.Errorf("%w: extensions are not accepted", ErrInvalid)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("%w: no such number in its region", ErrInvalid)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
