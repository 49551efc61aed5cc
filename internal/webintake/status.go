package webintake

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"dsrflow/internal/dsr"
)

// chinaTime is China Standard Time (UTC+8, no daylight saving): the dates
// the requester sees.
var chinaTime = time.FixedZone("CST", 8*60*60)

// statusJSON is the status as JSON: IDs, kind, status and dates, never
// personal data.
type statusJSON struct {
	RequestID string     `json:"requestId"`
	Kind      dsr.Kind   `json:"kind"`
	Status    dsr.Status `json:"status"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	DueAt     *time.Time `json:"dueAt,omitempty"`
}

// getStatus shows a request's status to whoever holds its status token (see
// authorizeStatus). An
// unknown ID, a missing token and a wrong token all get the same 404, so the
// page does not tell whether a request exists.
func (h *Handler) getStatus(ctx context.Context, r *request) response {
	id, token := r.params["id"], r.query.Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger().ErrorContext(ctx, "read request for status page", "requestId", id, "error", err.Error())
		return h.internalError(r)
	}
	if req == nil {
		return h.notFound(r)
	}
	if r.wantsJSON() {
		return jsonResponse(http.StatusOK, statusJSON{
			RequestID: req.ID, Kind: req.Kind, Status: req.Status,
			CreatedAt: req.CreatedAt.UTC(), UpdatedAt: req.UpdatedAt.UTC(), DueAt: utcPtr(req.DueAt),
		})
	}
	l := r.locale
	view := &statusView{
		RequestID:  req.ID,
		Kind:       req.Kind.Text(l),
		Status:     statusText(req.Status, l),
		Created:    formatDate(req.CreatedAt, l),
		CreatedISO: req.CreatedAt.In(chinaTime).Format(time.DateOnly),
	}
	if req.DueAt != nil {
		view.Due = formatDate(*req.DueAt, l)
		view.DueISO = req.DueAt.In(chinaTime).Format(time.DateOnly)
	}
	if req.Status == dsr.StatusAwaitingVerification && h.Verification != nil {
		view.VerifyURL = r.prefix() + verificationPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(l))
	}
	if view.Kind == "" {
		view.Kind = string(req.Kind)
	}
	return h.htmlPage(http.StatusOK, "status", &page{
		Locale:    l,
		Title:     text(l, "status.title"),
		SwitchURL: r.prefix() + statusPath(req.ID, token) + "&lang=" + url.QueryEscape(string(otherLocale(l))),
		Status:    view,
	})
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// formatDate is a date in China time, as each language writes it.
func formatDate(t time.Time, l dsr.Locale) string {
	t = t.In(chinaTime)
	if l == dsr.LocaleEn {
		return t.Format("2 January 2006")
	}
	return t.Format("2006年1月2日")
}
