package console

import (
	"net/url"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
)

// TestApproveManualVerification: a guardian's erasure request waits for
// manual verification; it is in the queue, its page offers the decision,
// and approving it moves the workflow on to completion. The decision's
// audit event names the operator's IAM principal.
func TestApproveManualVerification(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := s.guardianErasure("guardian-approve")
	s.waitFor(id, "verification")

	q := s.get("/?lang=en")
	if q.Status != 200 || !strings.Contains(q.Body, `href="/requests/`+id+`?lang=en"`) || !strings.Contains(q.Body, "Manual verification") {
		t.Fatalf("queue %d does not list %s:\n%s", q.Status, id, pageText(q.Body))
	}
	if !strings.Contains(q.Body, "Acting for someone else: Guardian of a minor") {
		t.Errorf("queue does not say why:\n%s", pageText(q.Body))
	}
	page := s.get("/requests/" + id + "?lang=en")
	if page.Status != 200 || !strings.Contains(page.Body, `id="approve-verification"`) {
		t.Fatalf("request page %d has no approval:\n%s", page.Status, pageText(page.Body))
	}
	a := s.post("/requests/"+id+"/decision", url.Values{"stage": {"verification"}, "decision": {"approve"}, "note": {"birth certificate checked"}})
	redirected(t, a, "/requests/"+id, "approved")
	if st := s.finished(id); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s; states %v", st, s.entered(id))
	}
	r, _ := s.st.GetRequest(s.ctx, id)
	if r.Status != dsr.StatusCompleted {
		t.Errorf("status %s, want completed", r.Status)
	}
	ev := s.lastEvent(id, "operator_decision")
	if ev.Actor != "operator:"+operatorARN || ev.Data["result"] != "approved" || ev.Data["note"] != "birth certificate checked" {
		t.Errorf("decision event = %+v", ev)
	}
	if after := s.get("/?lang=en"); strings.Contains(after.Body, id) && strings.Contains(after.Body, "Manual verification") {
		t.Errorf("the request is still in the queue")
	}
}
