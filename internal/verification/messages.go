package verification

import (
	"fmt"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

// message is what the verification page tells the requester about an outcome.
func message(out Outcome, r Result, l dsr.Locale, team notify.Contact) string {
	en := l == dsr.LocaleEn
	switch out {
	case OutcomeVerified:
		if en {
			return "Thank you, your identity is confirmed. We will now review your request and reply within 15 working days."
		}
		return "感谢您，身份验证已完成。我们将审核您的请求，并在十五个工作日内答复。"
	case OutcomeAlreadyVerified:
		if en {
			return "Your identity is already confirmed; there is nothing more to do here."
		}
		return "您的身份已验证，无需再次操作。"
	case OutcomeWrongCode:
		if en {
			return fmt.Sprintf("That code is not correct. You can try %d more time(s).", r.AttemptsLeft)
		}
		return fmt.Sprintf("验证码不正确，您还可以尝试 %d 次。", r.AttemptsLeft)
	case OutcomeLocked:
		return notify.LockedText(l, r.ResendsLeft, team)
	case OutcomeCodeExpired:
		if en {
			return "This code has expired. Please ask for a new code."
		}
		return "验证码已过期，请重新获取验证码。"
	case OutcomeInvalidCode:
		if en {
			return "Please enter the 6-digit code from our message."
		}
		return "请输入我们发送给您的 6 位数字验证码。"
	case OutcomeResent:
		if en {
			return "We have sent you a new code. The previous code no longer works."
		}
		return "我们已向您发送新的验证码，之前的验证码已失效。"
	case OutcomeResendLimit:
		if en {
			return "No more codes can be sent for this request. Please contact our privacy team to verify your identity another way."
		}
		return "此请求已无法再次发送验证码。请联系我们的隐私团队，以其他方式验证您的身份。"
	}
	if en {
		return "This request is not waiting for a verification code."
	}
	return "此请求当前无需输入验证码。"
}
