package devstack

import (
	"net/http"
	"time"

	"dsrflow/internal/console"
	"dsrflow/internal/documents"
	"dsrflow/internal/notify"
	"dsrflow/internal/principal"
	"dsrflow/internal/workday"
)

// console is the privacy team's console on the local stack, as `dsr
// console` serves it against AWS: the operator is the local principal
// (no IAM locally), messages go to the outbox.
func (s *Stack) console(secrets map[string]string) (http.Handler, error) {
	mail := notify.NewRouter(notify.RouterConfig{From: MailFrom, FromName: "隐私团队 Privacy Team", OutboxDir: s.Outbox},
		notify.RouterDeps{Clock: time.Now, Logger: s.log})
	return console.New(console.Config{
		Jurisdiction: workday.CN, SubjectKeySecret: secrets["SUBJECT_KEY_SECRET"], StateMachineArn: s.StateMachineArn,
		MaxOpenPerSubject: 3, PublicBaseURL: s.HTTPURL, StatusTokenSecret: secrets["STATUS_TOKEN_SECRET"], PrivacyContact: MailFrom,
	}, console.Deps{
		Store: s.Store, SFN: s.SFN, Objects: s.S3, Documents: documents.New(s.S3),
		Operations: s.Workflow.Operations(), Mail: mail,
		Principal: principal.Principal{ARN: "local:" + LocalPrincipal},
		Clock:     time.Now, Logger: s.log.With("component", "console"),
	})
}
