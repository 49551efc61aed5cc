package webintake

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"dsrflow/internal/dsr"
)

// TestStatusPageRefusalReason: the status page of a refused request shows
// the reason as the requester is told it (the refusal's SMS sends them
// there): a disclosed ground by name, an undisclosed one (no tipping-off)
// only as the neutral text, never its label or code; the JSON status names
// no reason at all.
func TestStatusPageRefusalReason(t *testing.T) {
	t.Parallel()
	for _, reason := range []dsr.RefusalReason{dsr.RefusalCriminalProceedings, dsr.RefusalNationalSecurity, dsr.RefusalSeriousHarm} {
		t.Run(string(reason), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 3)
			resp := e.do(t, formPost(e.sampleForm(t)))
			id, link := pageRequestID(t, resp.Body), statusLink(t, resp.Body)
			req, err := e.store.GetRequest(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.TransitionStatus(context.Background(), id, req.Status, dsr.StatusRefused, req.Version,
				func(r *dsr.Request) { r.RefusalReason = reason }); err != nil {
				t.Fatal(err)
			}
			for _, l := range dsr.Locales() {
				page := e.do(t, statusGet(t, link+"&lang="+string(l)))
				if page.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d", l, page.StatusCode)
				}
				if want := `<dd id="reason">` + reason.Text(l) + `</dd>`; !strings.Contains(page.Body, want) {
					t.Errorf("%s: page lacks %s:\n%s", l, want, page.Body)
				}
				if !reason.Undisclosed() {
					continue
				}
				for _, leak := range []string{string(reason), reason.Policy(), "犯罪", "国家安全", "criminal", "national security"} {
					if strings.Contains(strings.ToLower(page.Body), leak) {
						t.Errorf("%s: the page of an undisclosed refusal shows %q", l, leak)
					}
				}
			}
			jreq := statusGet(t, link)
			jreq.Header.Set("Accept", "application/json")
			if body := e.do(t, jreq).Body; strings.Contains(body, string(reason)) || strings.Contains(strings.ToLower(body), "reason") {
				t.Errorf("status JSON names the reason: %s", body)
			}
		})
	}
}
