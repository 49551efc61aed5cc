package partner

import (
	"context"
	"errors"
	"strings"

	"dsrflow/internal/dsr"
)

// Obligation codes the account system reports (policy 五.4 履行情况). Other
// codes are accepted and explained generically.
const (
	ObligationUnpaidSubscription = "unpaid_subscription"
	ObligationPendingWithdrawal  = "pending_withdrawal"
	ObligationOpenDispute        = "open_dispute"
	ObligationUnusedBalance      = "unused_balance"
	ObligationPendingOrder       = "pending_order"
)

var obligationTexts = map[string]dsr.Text{
	ObligationUnpaidSubscription: {ZhCN: "您的账户有未结清的订阅或会员费用。请先结清费用，或取消自动续费并等待当前周期结束。", En: "Your account has an unpaid subscription or membership fee. Please settle it, or cancel auto-renewal and wait for the current period to end."},
	ObligationPendingWithdrawal:  {ZhCN: "您的账户有尚未完成的提现。请等待提现到账后再申请注销。", En: "A withdrawal from your account has not completed yet. Please wait until it has arrived before closing the account."},
	ObligationOpenDispute:        {ZhCN: "您的账户存在尚未处理完毕的投诉、纠纷或版权争议。请待其处理完毕后再申请注销。", En: "Your account has an open complaint, dispute or copyright claim. Please close the account once it is resolved."},
	ObligationUnusedBalance:      {ZhCN: "您的账户仍有未使用的余额或虚拟资产，注销后将无法找回。请先使用或申请退还。", En: "Your account still holds an unused balance or virtual items, which cannot be recovered after closure. Please use them or ask for a refund first."},
	ObligationPendingOrder:       {ZhCN: "您的账户有尚未完成的订单。请待订单完成或取消后再申请注销。", En: "Your account has an order that is not finished. Please wait until it is completed or cancelled."},
}

var genericObligation = dsr.Text{ZhCN: "您的账户有尚未履行完毕的事项，请联系我们了解详情。", En: "Your account has an outstanding obligation; please contact us for details."}

// ObligationText explains an obligation code to the requester.
func ObligationText(code string, l dsr.Locale) string {
	if t, ok := obligationTexts[code]; ok {
		return t.In(l)
	}
	return genericObligation.In(l)
}

// PrecheckInput is the account closure pre-check's task input.
type PrecheckInput struct {
	RequestID string `json:"requestId"`
}

// PrecheckOutput says whether the account may be closed, and if not, the
// obligation codes (explained by ObligationText in the refusal).
type PrecheckOutput struct {
	Clear       bool     `json:"clear"`
	Obligations []string `json:"obligations"`
}

// Precheck asks the account system (Config.AccountSystem) whether the
// subject has outstanding obligations before their account is closed
// (policy 五.4). Partner errors are returned named, as from Dispatch.
func (d *Dispatcher) Precheck(ctx context.Context, in PrecheckInput) (PrecheckOutput, error) {
	if in.RequestID == "" {
		return PrecheckOutput{}, &InvalidInput{Field: "requestId", Problem: "required"}
	}
	p, ok := d.partners.Partner(d.partners.AccountSystem)
	if !ok {
		return PrecheckOutput{}, &InvalidInput{Field: "accountSystem", Problem: "no account system configured"}
	}
	req, err := d.store.GetRequest(ctx, in.RequestID)
	if err != nil {
		return PrecheckOutput{}, storeErr(in.RequestID, "load request", err)
	}
	if req.Kind != dsr.KindAccountClosure {
		return PrecheckOutput{}, &InvalidInput{Field: "requestId", Problem: "request " + req.ID + " is not an account closure"}
	}
	idn, err := d.store.GetIdentity(ctx, req.ID)
	if err != nil {
		return PrecheckOutput{}, storeErr(req.ID, "load identity", err)
	}
	ids := Identities(p, idn.Subject)
	if len(ids) == 0 {
		return PrecheckOutput{}, &InvalidInput{Field: "requestId", Problem: "request " + req.ID + " has no identifier the account system holds"}
	}
	secret, err := d.secrets.Resolve(ctx, p.SecretRef)
	if err != nil {
		return PrecheckOutput{}, &ServiceUnavailable{RequestID: req.ID, Op: "resolve secret of partner " + p.ID, Err: err}
	}
	resp, err := d.client.Precheck(ctx, p, secret, PrecheckRequest{SubjectRequestID: req.ID, SubjectIdentities: ids, APIVersion: APIVersion})
	if err != nil {
		if ctx.Err() != nil && !isPartnerErr(err) {
			return PrecheckOutput{}, &ServiceUnavailable{RequestID: req.ID, Op: "precheck", Err: err}
		}
		if aerr := d.audit(ctx, req.ID, "account.precheck_error", p.ID, map[string]string{"code": errorCode(err)}); aerr != nil {
			return PrecheckOutput{}, aerr
		}
		return PrecheckOutput{}, err
	}
	out := PrecheckOutput{Clear: len(resp.Obligations) == 0, Obligations: []string{}}
	for _, o := range resp.Obligations {
		out.Obligations = append(out.Obligations, o.Code)
	}
	data := map[string]string{"clear": boolString(out.Clear)}
	if !out.Clear {
		data["obligations"] = strings.Join(out.Obligations, ",")
	}
	if err := d.audit(ctx, req.ID, "account.precheck", p.ID, data); err != nil {
		return PrecheckOutput{}, err
	}
	return out, nil
}

func isPartnerErr(err error) bool {
	var (
		r *PartnerRetryable
		j *PartnerRejected
		g *PartnerGarbage
	)
	return errors.As(err, &r) || errors.As(err, &j) || errors.As(err, &g)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
