package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"

	"dsrflow/internal/deadline"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

var chinaTime = workday.ChinaTime

// accessDeniedCodes are the error codes AWS services answer a call IAM
// refused with.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true, // S3, STS
	"AccessDeniedException": true, // DynamoDB, Step Functions, KMS, SES v2
	"UnauthorizedOperation": true,
	"AuthorizationError":    true, // SNS
	"AccessDeniedFault":     true,
}

// isAccessDenied reports whether err is an AWS call IAM refused.
func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && accessDeniedCodes[ae.ErrorCode()]
}

// errorCode is err's AWS error code, or its Go type, for logs: never the
// message, which may quote a request.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprintf("%T", err)
}

// deniedView is the page of an AWS call IAM refused.
type deniedView struct {
	Principal string
	Service   string
	Operation string
	Code      string
	BackURL   string
}

// denied answers an AccessDenied: 403, the principal, what was refused.
func (h *Handler) denied(w http.ResponseWriter, r *http.Request, l dsr.Locale, back string, err error) {
	v := &deniedView{Principal: h.principal.ARN, Code: errorCode(err), BackURL: withLang(back, l)}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		v.Service, v.Operation = oe.Service(), oe.Operation()
	}
	h.logger.WarnContext(r.Context(), "aws refused the console's call", "service", v.Service, "operation", v.Operation, "code", v.Code, "path", r.URL.Path)
	p := h.newPage(r, l, "denied.title")
	p.Denied = v
	h.render(w, http.StatusForbidden, p, deniedMain(p))
}

// fail answers an error while reading a page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, l dsr.Locale, id string, err error) {
	back := "/"
	switch {
	case isAccessDenied(err):
		h.denied(w, r, l, back, err)
	case errors.Is(err, store.ErrNotFound):
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
	case errors.Is(err, context.Canceled):
		// The operator went away.
	default:
		h.logger.ErrorContext(r.Context(), "console page failed", "requestId", id, "path", r.URL.Path, "code", errorCode(err), "error", err.Error())
		h.message(w, r, l, http.StatusBadGateway, "errors.aws.title", "errors.aws", errorCode(err))
	}
}

// actionFailed answers a failed action on request id: the request page
// again with what went wrong, or the AccessDenied page.
func (h *Handler) actionFailed(w http.ResponseWriter, r *http.Request, l dsr.Locale, id, action string, err error) {
	if isAccessDenied(err) {
		h.denied(w, r, l, "/requests/"+id, err)
		return
	}
	status, key := classifyFailure(err)
	if status >= 500 {
		h.logger.ErrorContext(r.Context(), "console action failed", "requestId", id, "action", action, "code", errorCode(err), "error", err.Error())
	} else {
		h.logger.InfoContext(r.Context(), "console action refused", "requestId", id, "action", action, "code", key)
	}
	if errors.Is(err, store.ErrNotFound) && !h.requestExists(r.Context(), id) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	h.showRequest(w, r, l, id, status, "", text(l, key, errorCode(err)))
}

// mailFailed answers a failed action on a triaged mail.
func (h *Handler) mailFailed(w http.ResponseWriter, r *http.Request, l dsr.Locale, key string, err error) {
	if isAccessDenied(err) {
		h.denied(w, r, l, "/mail/"+key, err)
		return
	}
	status, msg := classifyFailure(err)
	if status >= 500 {
		h.logger.ErrorContext(r.Context(), "console mail action failed", "dedupeKey", key, "code", errorCode(err), "error", err.Error())
	}
	if errors.Is(err, store.ErrNotFound) {
		h.message(w, r, l, http.StatusNotFound, "errors.notFound.title", "errors.notFound")
		return
	}
	h.showMail(w, r, l, key, status, "", text(l, msg, errorCode(err)))
}

func (h *Handler) requestExists(ctx context.Context, id string) bool {
	_, err := h.store.GetRequest(ctx, id)
	return err == nil
}

// classifyFailure maps an action's error to a status and a catalog key
// (whose text may use %s, the error code).
func classifyFailure(err error) (int, string) {
	var ce *store.ConflictError
	var de *notify.DeliveryError
	switch {
	case errors.Is(err, operator.ErrNotWaiting):
		return http.StatusConflict, "fail.notWaiting"
	case errors.Is(err, operator.ErrAlreadyDecided):
		return http.StatusConflict, "fail.alreadyDecided"
	case errors.Is(err, operator.ErrTooLate):
		return http.StatusConflict, "fail.tooLate"
	case errors.Is(err, operator.ErrNotAwaiting):
		return http.StatusConflict, "fail.notAwaiting"
	case errors.Is(err, operator.ErrInvalid):
		return http.StatusBadRequest, "errors.badForm"
	case errors.Is(err, deadline.ErrNotAllowed):
		return http.StatusConflict, "fail.notAllowed"
	case errors.Is(err, deadline.ErrNoDueDate):
		return http.StatusConflict, "fail.noDueDate"
	case errors.Is(err, deadline.ErrClosed):
		return http.StatusConflict, "fail.closed"
	case errors.Is(err, deadline.ErrPaused):
		return http.StatusConflict, "fail.paused"
	case errors.Is(err, deadline.ErrNotPaused):
		return http.StatusConflict, "fail.notPaused"
	case errors.Is(err, deadline.ErrInvalid):
		return http.StatusBadRequest, "errors.badForm"
	case errors.Is(err, workflow.ErrNothingToRetry):
		return http.StatusConflict, "fail.nothingToRetry"
	case errors.Is(err, workflow.ErrUnknownPartner):
		return http.StatusNotFound, "fail.unknownPartner"
	case errors.Is(err, workflow.ErrNotEscalated):
		return http.StatusConflict, "fail.notEscalated"
	case errors.Is(err, workflow.ErrWorkflowGone):
		return http.StatusConflict, "fail.workflowGone"
	case errors.As(err, new(*partner.BackupsNotYetRotated)):
		return http.StatusConflict, "fail.backupsNotRotated"
	case errors.Is(err, store.ErrResolved):
		return http.StatusConflict, "fail.resolved"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "errors.notFound"
	case errors.As(err, &ce), errors.Is(err, store.ErrContention):
		return http.StatusConflict, "fail.conflict"
	case errors.Is(err, errNoEmail):
		return http.StatusConflict, "fail.noEmail"
	case errors.Is(err, errNoMail):
		return http.StatusConflict, "fail.noMail"
	case errors.Is(err, errNoOperations):
		return http.StatusConflict, "fail.noOperations"
	case errors.Is(err, errTooLarge):
		return http.StatusConflict, "fail.tooLarge"
	case errors.Is(err, intake.ErrKeyReused):
		return http.StatusConflict, "fail.conflict"
	case errors.As(err, &de):
		return http.StatusBadGateway, "fail.delivery"
	}
	return http.StatusBadGateway, "errors.aws"
}

// doneText is the notice after an action (the done= code of its redirect).
func doneText(l dsr.Locale, code string) string {
	if code == "" || len(code) > 40 || strings.ContainsAny(code, "./%") {
		return ""
	}
	key := "done." + code
	if _, ok := catalog[key]; !ok {
		return ""
	}
	return text(l, key)
}
