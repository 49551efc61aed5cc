package webintake

import (
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
func (h *Handler) getStatus(w http.ResponseWriter, r *http.Request) {
	ctx, l := r.Context(), requestLocale(r)
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	req, err := h.authorizeStatus(ctx, id, token)
	if err != nil {
		h.logger.ErrorContext(ctx, "read request for status page", "requestId", id, "error", err.Error())
		h.internalError(w, r, l)
		return
	}
	if req == nil {
		h.notFound(w, r, l)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, statusJSON{
			RequestID: req.ID, Kind: req.Kind, Status: req.Status,
			CreatedAt: req.CreatedAt.UTC(), UpdatedAt: req.UpdatedAt.UTC(), DueAt: utcPtr(req.DueAt),
		})
		return
	}
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
	// The refusal messages' SMS form sends the requester here for the
	// reason: what they are told (Text), never an undisclosed ground.
	if req.Status == dsr.StatusRefused && req.RefusalReason.Valid() {
		view.Reason = req.RefusalReason.Text(l)
	}
	if req.Role.NeedsManualReview() && !req.Status.Terminal() && req.PersonalPurgedAt == nil {
		view.DocumentsURL = documentsPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(l))
	}
	if req.Status == dsr.StatusAwaitingVerification {
		view.VerifyURL = verificationPath(req.ID) + "?token=" + url.QueryEscape(token) + "&lang=" + url.QueryEscape(string(l))
	}
	if view.Kind == "" {
		view.Kind = string(req.Kind)
	}
	h.writePage(w, http.StatusOK, "status", &page{
		Locale:    l,
		Title:     text(l, "status.title"),
		SwitchURL: statusPath(req.ID, token) + "&lang=" + url.QueryEscape(string(otherLocale(l))),
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
