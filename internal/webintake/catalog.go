package webintake

import (
	"fmt"

	"dsrflow/internal/dsr"
)

// catalog holds every text of the privacy center that dsr does not already
// provide (kinds, roles, grounds, purposes and field errors come from dsr).
var catalog = map[string]dsr.Text{
	"site.name":     {ZhCN: "隐私中心", En: "Privacy Center"},
	"lang.switch":   {ZhCN: "English", En: "中文"},
	"lang.switchTo": {ZhCN: "Show this form in English (keeps what you entered)", En: "切换为中文（保留已填写的内容）"},

	"form.title": {ZhCN: "行使您的个人信息权利", En: "Exercise your personal information rights"},
	"form.intro": {
		ZhCN: "您可以通过本表单访问、更正、删除您的个人信息，改变授权同意的范围或撤回授权，或注销账户。我们会先验证您的身份，并在验证后十五个工作日内答复。",
		En:   "Use this form to access, correct or delete your personal information, narrow or withdraw your consent, or close your account. We first verify your identity, then reply within fifteen working days of verification.",
	},
	"form.required":         {ZhCN: "必填", En: "required"},
	"form.optional":         {ZhCN: "选填", En: "optional"},
	"form.kind":             {ZhCN: "您想做什么？", En: "What would you like to do?"},
	"form.role":             {ZhCN: "您以什么身份提出请求？", En: "Who is making the request?"},
	"form.role.hint":        {ZhCN: "代他人提出请求时，我们不发送验证码，而由隐私团队人工审核您的身份和授权证明。", En: "If you act for someone else, we send no code: our privacy team checks your identity and your authority by hand."},
	"form.ground":           {ZhCN: "删除的情形", En: "Why should we delete it?"},
	"form.ground.hint":      {ZhCN: "请选择适用的情形（隐私政策第五条第2款）。", En: "Choose the situation that applies (privacy policy 5.2)."},
	"form.ground.none":      {ZhCN: "不适用（不是删除请求）", En: "Not applicable (not a deletion request)"},
	"form.identifiers":      {ZhCN: "您的联系方式", En: "How we can identify and reach you"},
	"form.identifiers.hint": {ZhCN: "请至少填写电子邮件地址或手机号码中的一项。我们会通过它验证您的身份并答复您。", En: "Enter an email address, a phone number, or both. We use it to verify your identity and to reply."},
	"form.email":            {ZhCN: "电子邮件地址", En: "Email address"},
	"form.phone":            {ZhCN: "手机号码", En: "Mobile phone number"},
	"form.phone.hint":       {ZhCN: "中国大陆以外的号码请加国家或地区代码，例如 +852。", En: "Outside mainland China, include the country code, such as +852."},
	"form.accountId":        {ZhCN: "账户 ID", En: "Account ID"},
	"form.subject":          {ZhCN: "您代其提出请求的人（数据主体）", En: "The person you act for (the data subject)"},
	"form.subject.hint": {
		ZhCN: "请尽量填写，以便我们找到其个人信息；这些信息不能证明您的授权。我们不会向您或该人发送验证码：我们的隐私团队会人工审核您的身份和授权证明材料（例如监护关系证明、授权委托书，或亲属关系及死亡证明），并通过您在上方填写的联系方式与您联系。",
		En:   "Fill in what you can, so that we can find their personal information; it does not prove your authority. We send no code to you or to them: our privacy team checks your identity and your documents of authority (for example proof of guardianship, a power of attorney, or proof of kinship and of death) by hand, and contacts you through the details you gave above.",
	},
	"form.subjectName":      {ZhCN: "其姓名", En: "Their name"},
	"form.subjectAccountId": {ZhCN: "其账户 ID", En: "Their account ID"},
	"form.subjectEmail":     {ZhCN: "其电子邮件地址", En: "Their email address"},
	"form.subjectPhone":     {ZhCN: "其手机号码", En: "Their mobile phone number"},
	"form.listSep":          {ZhCN: "、", En: ", "},
	"form.corrections":      {ZhCN: "需要更正的信息", En: "What to correct"},
	"form.corrections.hint": {ZhCN: "每行一项，写明需要更正的信息及正确的内容。", En: "One item per line: which information, and what it should be."},
	"form.purposes":         {ZhCN: "撤回授权的用途", En: "Consent to withdraw"},
	"form.appliesTo":        {ZhCN: "仅适用于：%s", En: "Only for: %s"},
	"form.details":          {ZhCN: "补充说明", En: "Anything else we should know"},
	"form.submit":           {ZhCN: "提交请求", En: "Send request"},
	"form.maxChars":         {ZhCN: "最多 %d 个字符。", En: "At most %d characters."},
	"form.line":             {ZhCN: "第 %d 行：", En: "Line %d: "},

	"errors.title":       {ZhCN: "提交的内容有问题", En: "There is a problem"},
	"errors.item":        {ZhCN: "%s：%s", En: "%s: %s"},
	"errors.expired":     {ZhCN: "表单已过期或不完整。您填写的内容已保留，请检查后再次提交。", En: "The form expired or is incomplete. What you entered is kept; check it and send it again."},
	"errors.tooMany":     {ZhCN: "您尚未完成的请求已达上限。请等待现有请求处理完毕后再提交新的请求；如有疑问，请联系我们的隐私团队。", En: "You have reached the limit of open requests. Please wait until they are finished before sending a new one, or contact our privacy team."},
	"errors.reused":      {ZhCN: "此表单已提交过，且内容与本次不同；之前提交的请求保持不变。如需提交新的请求，请检查下方内容后再次提交。", En: "This form was already sent with different content; the request it made is unchanged. To send a new request, check the form below and send it again."},
	"errors.crossSite":   {ZhCN: "出于安全考虑，我们不接受从其他网站提交的请求。请打开本站的表单并在此提交。", En: "For your security, we do not accept requests sent from another website. Open the form on this site and send it from here."},
	"errors.tooLarge":    {ZhCN: "提交的内容过大（上限为 %d KiB）。请缩短补充说明后重试。", En: "The request is too large (the limit is %d KiB). Shorten the details and try again."},
	"errors.mediaType":   {ZhCN: "不支持的内容类型。请以 application/x-www-form-urlencoded 或 application/json 提交。", En: "Unsupported content type. Send application/x-www-form-urlencoded or application/json."},
	"errors.notFound":    {ZhCN: "找不到该页面或请求，或链接无效。请使用提交请求后收到的完整链接。", En: "The page or request was not found, or the link is not valid. Use the full link you received when you sent the request."},
	"errors.method":      {ZhCN: "不支持此请求方法。", En: "This method is not allowed."},
	"errors.rateLimited": {ZhCN: "来自您所在网络的请求过多，请稍后再试。您之前提交的请求不受影响。", En: "Too many requests came from your network. Please try again later; requests you already sent are not affected."},
	"errors.internal":    {ZhCN: "服务暂时出现问题，您的请求未能提交。请稍后重试。", En: "Something went wrong on our side and your request was not sent. Please try again later."},
	"errors.back":        {ZhCN: "返回表单", En: "Back to the form"},

	"accepted.title": {ZhCN: "我们已收到您的请求", En: "We have received your request"},
	"accepted.id":    {ZhCN: "请求编号", En: "Request ID"},
	"accepted.next": {
		ZhCN: "接下来，我们会通过您提供的联系方式验证您的身份。验证完成后，我们将在十五个工作日内答复您。",
		En:   "Next, we will verify your identity through the contact details you gave. We will reply within fifteen working days of verification.",
	},
	"accepted.next.others": {
		ZhCN: "您是代他人提出请求，因此我们不会发送验证码。接下来，我们的隐私团队会人工审核您的身份和代其提出请求的授权（例如监护关系证明、授权委托书，或亲属关系及死亡证明），并通过您提供的联系方式与您联系，告知需要提供的材料。审核完成后，我们将在十五个工作日内答复您。",
		En:   "Because you act for someone else, we send no verification code. Next, our privacy team checks your identity and your authority to act for them (for example proof of guardianship, a power of attorney, or proof of kinship and of death) by hand, and contacts you through the details you gave to say which documents we need. We reply within fifteen working days of that check.",
	},
	"accepted.next.othersUpload": {
		ZhCN: "您是代他人提出请求，因此我们不会向您或该人发送验证码。接下来，我们的隐私团队会人工审核您的身份和代其提出请求的授权。请在下方提交证明材料；如需更多材料，我们会通过您提供的联系方式与您联系。审核完成后，我们将在十五个工作日内答复您。",
		En:   "Because you act for someone else, we send no verification code to you or to them. Next, our privacy team checks your identity and your authority to act for them by hand. Send your documents below; if we need anything else, we contact you through the details you gave. We reply within fifteen working days of that check.",
	},
	"accepted.link":       {ZhCN: "您可以通过以下链接随时查看处理进度。请妥善保存此链接，它是查看进度的唯一凭证：", En: "You can follow your request at this link. Keep it safe: it is the only way to see the progress:"},
	"accepted.verify":     {ZhCN: "我们会向您发送 6 位数字验证码。收到后，请在验证页面输入（消息中也附有该页面的链接）：", En: "We will send you a 6-digit code. When it arrives, enter it on the verification page (the message links to it too):"},
	"accepted.verifyText": {ZhCN: "输入验证码", En: "Enter the code"},
	"accepted.linkText":   {ZhCN: "查看请求进度", En: "View the status of your request"},

	// Documents sent by guardians, agents and relatives.
	"upload.title":   {ZhCN: "提交证明材料", En: "Send your documents"},
	"upload.heading": {ZhCN: "提交证明材料", En: "Send your documents"},
	"upload.what": {
		ZhCN: "请提交您本人的身份证明，以及您有权代其提出请求的证明，例如监护关系证明（如出生医学证明、户口簿）、授权委托书，或亲属关系证明及死亡证明。",
		En:   "Send proof of your own identity and of your authority to act for them: for example proof of guardianship (such as a birth certificate or household register), a power of attorney, or proof of kinship and a death certificate.",
	},
	"upload.limits": {
		ZhCN: "每份文件须为 PDF、JPEG 或 PNG 格式，不超过 %d MB；每个请求最多 %d 份，目前已收到 %d 份。每次上传一份文件，请使用与文件格式对应的按钮。",
		En:   "Each file must be a PDF, JPEG or PNG of at most %d MB. A request takes at most %d files; we have received %d. Upload one file at a time, with the button for its format.",
	},
	"upload.label.pdf":    {ZhCN: "PDF 文件", En: "A PDF file"},
	"upload.label.jpeg":   {ZhCN: "JPEG 图片（.jpg）", En: "A JPEG image (.jpg)"},
	"upload.label.png":    {ZhCN: "PNG 图片", En: "A PNG image"},
	"upload.hint.type":    {ZhCN: "仅限 %s 格式。", En: "%s files only."},
	"upload.button":       {ZhCN: "上传 %s 文件", En: "Upload the %s file"},
	"upload.receivedList": {ZhCN: "已收到的文件", En: "Files received"},
	"upload.receivedItem": {ZhCN: "第 %d 份：%s，%s，%s收到", En: "File %d: %s, %s, received %s"},
	"upload.full": {
		ZhCN: "您已提交 %d 份文件，已达上限。如需补充材料，请发送电子邮件至 %s，并在主题中注明请求编号 %s。",
		En:   "You have sent %d files, the most a request takes. To send more, email %s with the request ID %s in the subject.",
	},
	"upload.byMail": {
		ZhCN: "请将证明材料通过电子邮件发送至 %s，并在邮件主题中注明请求编号 %s。",
		En:   "Email your documents to %s, with the request ID %s in the subject.",
	},
	"upload.later":     {ZhCN: "您也可以稍后通过以下链接提交材料（请妥善保存）：", En: "You can also send documents later at this link (keep it safe):"},
	"upload.laterText": {ZhCN: "提交证明材料", En: "Send documents"},
	"upload.next": {
		ZhCN: "接下来，我们的隐私团队会人工审核您提交的材料，核实您的身份和代其提出请求的授权。我们不会向您或该人发送验证码。如需更多材料，我们会通过您提供的联系方式与您联系。审核完成后，我们将在十五个工作日内答复您。",
		En:   "Next, our privacy team checks your documents by hand, to confirm your identity and your authority to act for them. We send no verification code to you or to them. If we need anything else, we contact you through the details you gave. We reply within fifteen working days of that check.",
	},
	"upload.received":      {ZhCN: "我们已收到您的 %s 文件（第 %d 份，最多 %d 份）。", En: "We received your %s file (file %d of at most %d)."},
	"upload.missing":       {ZhCN: "我们没有收到文件。请选择文件后再上传一次。", En: "We did not receive a file. Choose the file and upload it again."},
	"upload.empty":         {ZhCN: "文件是空的，我们已将其删除。请选择正确的文件后重新上传。", En: "The file was empty, so we deleted it. Choose the right file and upload it again."},
	"upload.tooLarge":      {ZhCN: "文件超过 %d MB，我们已将其删除。请缩小文件或分成几份后重新上传。", En: "The file is larger than %d MB, so we deleted it. Make it smaller, or split it, and upload it again."},
	"upload.wrongType":     {ZhCN: "该文件不是 %s 格式，我们已将其删除。请确认文件格式，并使用与其格式对应的按钮重新上传。", En: "The file is not a %s file, so we deleted it. Check its format and upload it with the button for that format."},
	"upload.limit":         {ZhCN: "此请求已收到 %d 份文件，已达上限，因此我们删除了本次上传的文件。如需补充材料，请联系%s。", En: "This request already has %d files, the most it takes, so we deleted this one. To send more, contact %s."},
	"upload.ticketInvalid": {ZhCN: "上传链接无效。请在此页面重新上传文件。", En: "This upload link is not valid. Upload the file again from this page."},
	"upload.ticketExpired": {ZhCN: "上传表单已过期。请在此页面重新上传文件。", En: "The upload form expired. Upload the file again from this page."},
	"upload.notForSelf":    {ZhCN: "此请求通过验证码验证您的身份，无需提交证明材料。", En: "This request is verified by a code: no documents are needed."},
	"upload.closed":        {ZhCN: "此请求已结束，不再接受材料。", En: "This request has ended and takes no more documents."},

	// Codes of errors found by the web layer, beside dsr's field codes.
	"code.unknown_field":            {ZhCN: "不支持此字段。", En: "This field is not supported."},
	"code.invalid_type":             {ZhCN: "此字段的类型不正确：应为文本，列表字段应为文本数组。", En: "This field has the wrong type: it must be a string, or an array of strings for a list."},
	"code.malformed_json":           {ZhCN: "请求正文不是有效的 JSON 对象。", En: "The request body is not a valid JSON object."},
	"code.internal":                 {ZhCN: "服务暂时出现问题，您的请求未能提交。请稍后重试。", En: "Something went wrong on our side and your request was not sent. Please try again later."},
	"code.login_self_only":          {ZhCN: "登录只能证明您本人的账号：代他人提出请求时，请不要携带登录凭证，由隐私团队核实您的授权。", En: "A login proves your own account only: when you ask for someone else, send the request without the login token, and the privacy team checks your authority."},
	"code.malformed_body":           {ZhCN: "无法读取请求正文。", En: "The request body cannot be read."},
	"code.idempotency_key_required": {ZhCN: "请在 Idempotency-Key 请求头中提供幂等键（例如随机 UUID），以免重试时重复提交。", En: "Send an Idempotency-Key header (a random UUID, for example), so that a retry does not create a second request."},
	"code.invalid_idempotency_key":  {ZhCN: "Idempotency-Key 须为一个随机值：22 至 255 个可见 ASCII 字符（逗号除外），至少 128 位，例如随机 UUID 或 32 位十六进制数。", En: "The Idempotency-Key must be one random value of 22 to 255 visible ASCII characters (no comma) with at least 128 bits, such as a random UUID or 32 hex digits."},
	"code.idempotency_key_reused":   {ZhCN: "此 Idempotency-Key 已用于内容不同的另一个请求。新的请求请使用新的幂等键。", En: "This Idempotency-Key was already used for a request with different content. Use a new key for a new request."},
	"code.email_not_ascii":          {ZhCN: "我们目前无法向 @ 之前含有中文等非 ASCII 字符的邮箱地址发送邮件。请填写 @ 之前仅含英文字母、数字和符号的邮箱地址，或改填手机号码。", En: "We cannot yet send mail to an address with characters such as Chinese before the @. Give an address with only Latin letters, digits and symbols before the @, or a phone number instead."},

	"status.title":     {ZhCN: "请求进度", En: "Request status"},
	"status.id":        {ZhCN: "请求编号", En: "Request ID"},
	"status.kind":      {ZhCN: "请求类型", En: "Request type"},
	"status.status":    {ZhCN: "当前状态", En: "Status"},
	"status.created":   {ZhCN: "提交日期", En: "Received on"},
	"status.due":       {ZhCN: "答复期限", En: "Reply due by"},
	"status.reason":    {ZhCN: "原因", En: "Reason"},
	"status.dates":     {ZhCN: "日期为北京时间。", En: "Dates are in China Standard Time."},
	"status.documents": {ZhCN: "提交证明材料", En: "Send your documents"},
	"status.verify":    {ZhCN: "输入验证码，完成身份验证", En: "Enter your code to verify your identity"},

	// The verification page.
	"verify.title":          {ZhCN: "验证您的身份", En: "Verify your identity"},
	"verify.intro.email":    {ZhCN: "我们已向您在请求中填写的电子邮件地址发送了一个 6 位数字验证码。请在下方输入，以证明该邮箱属于您本人（隐私政策第五条第5款）。", En: "We sent a 6-digit code to the email address on your request. Enter it below to show that the address is yours (privacy policy 5.5)."},
	"verify.intro.sms":      {ZhCN: "我们已通过短信向您在请求中填写的手机号码发送了一个 6 位数字验证码。请在下方输入，以证明该号码属于您本人（隐私政策第五条第5款）。", En: "We sent a 6-digit code by text message to the phone number on your request. Enter it below to show that the number is yours (privacy policy 5.5)."},
	"verify.intro.sending":  {ZhCN: "我们正在向您在请求中填写的联系方式发送 6 位数字验证码，通常一分钟内送达。收到后请在下方输入。", En: "We are sending a 6-digit code to the contact details on your request; it usually arrives within a minute. Enter it below when it does."},
	"verify.code":           {ZhCN: "验证码", En: "Verification code"},
	"verify.code.hint":      {ZhCN: "6 位数字，例如 123456。", En: "6 digits, such as 123456. "},
	"verify.expires":        {ZhCN: "验证码在 %s（北京时间）前有效。", En: "The code works until %s (China Standard Time). "},
	"verify.attemptsLeft":   {ZhCN: "还可尝试 %d 次。", En: "You can try %d more times."},
	"verify.submit":         {ZhCN: "验证", En: "Verify"},
	"verify.resend":         {ZhCN: "重新发送验证码", En: "Send me a new code"},
	"verify.resend.hint":    {ZhCN: "没有收到验证码，或验证码已失效？您还可以重新获取 %d 次。新验证码发出后，之前的验证码即失效。", En: "No code, or it stopped working? You can ask for a new one %d more times. A new code replaces the previous one."},
	"verify.verified":       {ZhCN: "感谢您，身份验证已完成。我们将审核您的请求，并在验证后十五个工作日内答复您。您可以通过下方链接随时查看处理进度。", En: "Thank you, your identity is confirmed. We will review your request and reply within fifteen working days of verification. You can follow it at the link below."},
	"verify.already":        {ZhCN: "您的身份已经验证，无需再次输入验证码。", En: "Your identity is already confirmed; there is no need to enter a code again."},
	"verify.next":           {ZhCN: "我们将审核您的请求，并在验证后十五个工作日内答复您。", En: "We will review your request and reply within fifteen working days of verification."},
	"verify.required":       {ZhCN: "请输入验证码。", En: "Enter the code."},
	"verify.invalid":        {ZhCN: "验证码应为 6 位数字，请检查后重新输入。", En: "The code is 6 digits. Check it and enter it again."},
	"verify.wrong":          {ZhCN: "验证码不正确，您还可以尝试 %d 次。", En: "That code is not correct. You can try %d more times."},
	"verify.expired":        {ZhCN: "验证码已过期。请点击下方的“重新发送验证码”获取新的验证码。", En: "This code has expired. Use “Send me a new code” below to get a new one."},
	"verify.expiredFinal":   {ZhCN: "验证码已过期，且已无法再重新发送。请联系%s，以其他方式验证您的身份。", En: "This code has expired and no more codes can be sent. Please contact %s to verify your identity another way."},
	"verify.locked":         {ZhCN: "验证码输入错误次数过多，该验证码已失效。请点击下方的“重新发送验证码”获取新的验证码（还可获取 %d 次），或联系%s。", En: "The code was entered wrongly too many times, so it no longer works. Use “Send me a new code” below (%d more can be sent), or contact %s."},
	"verify.lockedFinal":    {ZhCN: "验证码输入错误次数过多，该验证码已失效，且已无法再重新发送。请联系%s，以其他方式（例如书面材料）验证您的身份。", En: "The code was entered wrongly too many times, so it no longer works, and no more codes can be sent. Please contact %s to verify your identity another way (for example with documents)."},
	"verify.resent":         {ZhCN: "我们已向您发送新的验证码，之前的验证码已失效。", En: "We have sent you a new code. The previous code no longer works."},
	"verify.resendLimit":    {ZhCN: "已达到重新发送次数的上限，无法再发送验证码。请联系%s，以其他方式验证您的身份。", En: "No more codes can be sent for this request. Please contact %s to verify your identity another way."},
	"verify.notWaiting":     {ZhCN: "此请求当前不需要输入验证码：可能正在由工作人员人工核验您的身份，或请求已结束。请通过下方链接查看请求进度。", En: "This request is not waiting for a code: your identity may be checked by our staff instead, or the request has ended. See its status at the link below."},
	"verify.invalidAction":  {ZhCN: "不支持此操作。", En: "This action is not supported."},
	"verify.busy":           {ZhCN: "我们正在处理您刚才的提交，请稍候再试。", En: "We are still handling your previous submission. Please try again in a moment."},
	"verify.deliveryFailed": {ZhCN: "暂时无法发送新的验证码，请稍后重试。", En: "We cannot send a new code right now. Please try again later."},
	"verify.internal":       {ZhCN: "服务暂时出现问题，请稍后重新提交验证码。已完成的验证不会失效。", En: "Something went wrong on our side. Please submit the code again in a moment; a completed verification stays valid."},
	"verify.team":           {ZhCN: "我们的隐私团队", En: "our privacy team"},
	"verify.teamAt":         {ZhCN: "我们的隐私团队（%s）", En: "our privacy team at %s"},
}

// statusTexts name each request status for the status page.
var statusTexts = map[dsr.Status]dsr.Text{
	dsr.StatusReceived:               {ZhCN: "已收到", En: "Received"},
	dsr.StatusAwaitingVerification:   {ZhCN: "等待身份验证", En: "Waiting for identity verification"},
	dsr.StatusInReview:               {ZhCN: "审核中", En: "Under review"},
	dsr.StatusInProgress:             {ZhCN: "处理中", En: "In progress"},
	dsr.StatusReplied:                {ZhCN: "已答复", En: "Replied"},
	dsr.StatusAwaitingBackupRotation: {ZhCN: "已答复，等待备份更新时删除", En: "Replied; waiting for backups to be refreshed"},
	dsr.StatusCompleted:              {ZhCN: "已完成", En: "Completed"},
	dsr.StatusRefused:                {ZhCN: "已拒绝（原因已告知您）", En: "Refused (we told you why)"},
	dsr.StatusExpired:                {ZhCN: "已过期（身份未在期限内验证）", En: "Expired (identity not verified in time)"},
	dsr.StatusDuplicate:              {ZhCN: "与另一请求重复", En: "Duplicate of another request"},
	dsr.StatusEscalated:              {ZhCN: "处理中（人工跟进）", En: "In progress (followed up by staff)"},
}

// text is the catalog entry key in locale l; a missing key shows as itself,
// which the catalog test catches.
func text(l dsr.Locale, key string, args ...any) string {
	t, ok := catalog[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(t.In(l), args...)
	}
	return t.In(l)
}

func statusText(s dsr.Status, l dsr.Locale) string {
	if t, ok := statusTexts[s]; ok {
		return t.In(l)
	}
	return string(s)
}
