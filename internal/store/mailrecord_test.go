package store

import "testing"

// TestMailRecordNeedsPerson: triaged and rejected mail, and a requester's
// reply that joined its request, wait for a person until resolved; ignored
// machine mail and requests made from mail do not.
func TestMailRecordNeedsPerson(t *testing.T) {
	tests := []struct {
		name string
		r    MailRecord
		want bool
	}{
		{"triaged", MailRecord{Action: "triage"}, true},
		{"rejected", MailRecord{Action: "reject"}, true},
		{"reply joined its request", MailRecord{Action: "follow_up", RequestID: "r-1"}, true},
		{"reply read", MailRecord{Action: "follow_up", RequestID: "r-1", Resolution: "ignored"}, false},
		{"reply that joined nothing is triaged, not a follow-up", MailRecord{Action: "follow_up"}, false},
		{"triaged and converted", MailRecord{Action: "triage", Resolution: "converted"}, false},
		{"request", MailRecord{Action: "request", RequestID: "r-2"}, false},
		{"ignored", MailRecord{Action: "ignore"}, false},
	}
	for _, tt := range tests {
		if got := tt.r.NeedsPerson(); got != tt.want {
			t.Errorf("%s: NeedsPerson = %v, want %v", tt.name, got, tt.want)
		}
	}
}
