// Package partner reaches the partner systems that hold a data subject's
// data (policy 五.2: 通知从我们获得您的个人信息的实体…要求其及时删除): their
// configuration, the signed protocol, the client, and the task handlers of
// the workflow's FanOut, account closure pre-check and backup confirmation,
// and the partner-callback endpoint.
//
// # Configuration
//
// Partners are configuration (docs/ARCHITECTURE.md, rule 6): config/partners.example.json
// models the policy's parties (the music account system, the AI-singer voice
// and model store, analytics 数据统计服务, the SMS provider, cloud storage/CDN).
// LoadConfig reads it strictly and Validate reports every problem at once.
// Durations are Go durations or whole days ("35d"). Secrets are named by
// reference, never written in the file: "env:NAME" reads an environment
// variable (built in); other schemes ("ssm:/dsrflow/partners/analytics") need
// a SecretResolver registered in Secrets.Schemes by the caller that holds the
// AWS client. Secrets shorter than 16 bytes are refused.
//
// PartnersFor maps a request kind to the partners it reaches and the action
// each gets (erasure → erase; account_closure → close_account at the account
// system, erase elsewhere; access, portability → export; correction →
// correct; consent_withdrawal → withdraw_consent only at partners serving a
// withdrawn purpose). PurgeAfter is the deletion time plus the longest backup
// retention among the partners that held data.
//
// # Protocol
//
// Modelled on OpenDSR (field names subject_request_id, subject_request_type,
// subject_identities [identity_type, identity_value, identity_format],
// submitted_time, api_version, status_callback_urls, request_status,
// expected_completion_time). subject_request_id is the request ID and the
// idempotency key. Each partner receives only the identity types it holds.
//
//	POST {endpoint}/requests               200 {"request_status":"completed","receipt":…,"export"?,"changed"?}
//	                                       202 {"request_status":"pending","expected_completion_time":…}
//	POST {base}/partners/{id}/callbacks    the partner's later answer, same shape (completed|failed|…)
//	POST {endpoint}/precheck               {"obligations":[{"code":…,"text"?}]}
//	POST {endpoint}/backups/purge-status   {"purged":bool,"oldest_backup_time":…}
//
// Every message, both ways, carries X-DSR-Timestamp (Unix seconds) and
// X-DSR-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>,
// Stripe style: several v1= values may be given while a secret rotates; the
// receiver checks the signature over the raw bytes before parsing, in
// constant time, and refuses timestamps more than 5 minutes off.
//
// # Errors (Step Functions error names)
//
// A handler error's Go type name is the Step Functions error name:
//
//	PartnerRetryable      5xx, 429, 408, timeout, connection failure        Retry with backoff
//	PartnerRejected       another 4xx (or a redirect)                        not retried → Escalate
//	PartnerGarbage        not the protocol (not JSON, wrong request, ...)   not retried → Escalate
//	PartnerFailed         the partner answered failed/cancelled              not retried → Escalate
//	BackupsNotYetRotated  a backup older than the deletion remains           retried daily, then escalated
//	RequestNotFound       no such request                                    not retried
//	InvalidInput          malformed task input, unknown partner              not retried
//	ServiceUnavailable    DynamoDB, S3, Step Functions, secrets failed       Retry with backoff
//
// Each error's code (http_503, timeout, garbage_not_json, ...) is recorded on
// the partner task's LastError and in the audit trail; messages carry IDs
// and codes only. Retry-After cannot steer a Step Functions Retry; Backoff
// (for `dsr retry` outside Step Functions) honours it as a floor.
//
// # Wiring (statemachines/dsr.asl.json)
//
// statemachines/dsr.asl.json carries this wiring (FanOut with MaxConcurrency
// 40, its Map result dropped: outcomes are on the PARTNER# items), and
// internal/workflow lists these handlers in workflow.Functions() (functions
// partner-plan, partner-dispatch, partner-await, partner-escalate,
// account-precheck, confirm-backup-purge, export-assemble), configured by
// workflow.Config (PARTNERS_CONFIG, EXPORT_*). testdata/fanout.asl.json is
// the FanOut alone, run by this package's tests on the local engine: Task PlanFanOut (Dispatcher.Plan) → Map over
// $.fanout.partners: Dispatch (Dispatcher.Dispatch; Retry PartnerRetryable
// IntervalSeconds 5, MaxAttempts 6, BackoffRate 2, MaxDelaySeconds 300,
// JitterStrategy FULL; ServiceUnavailable and Lambda.* IntervalSeconds 2,
// MaxAttempts 6, BackoffRate 2, MaxDelaySeconds 60, FULL) → Choice on
// $.result.status = "awaiting_callback" → AwaitCallback
// (arn:${Partition}:states:::lambda:invoke.waitForTaskToken on
// Dispatcher.Await with taskToken.$ = $$.Task.Token, TimeoutSecondsPath
// $.result.deadlineSeconds) → Done (OutputPath $.result). Dispatch and
// AwaitCallback Catch States.ALL → Escalate (Dispatcher.Escalate with
// error.$ = $.error.Error), so one partner never fails the request. Each
// iteration's output is a DispatchOutput {requestId, partnerId, action,
// status, receipt?, error?}.
//
// Account closure: AccountPrecheck (Dispatcher.Precheck) → Choice on
// $.precheck.clear; obligations are codes, explained by ObligationText.
// Erasure and account closure: Reply computes purgeAfter with BackupWindow
// ({deletedAt, purgeAfter, systems}; no earlier than our own backups'
// rotation) and returns it for the Wait's TimestampPath ($.reply.purgeAfter);
// then ConfirmBackupPurge (Retry BackupsNotYetRotated IntervalSeconds 86400,
// MaxAttempts 14, BackoffRate 1; Catch → EscalateBackups, which waits on a
// token that `dsr retry ID` answers); Close issues certificate.Build's
// certificate (stored as REQ#<id>/CERTIFICATE) and the final confirmation. Access and portability: export.Assembler builds the package; the
// reply gets the link from export.Store.Link.
//
// # Guarantees
//
//   - Dispatch never sends again to a partner whose task is completed,
//     failed, escalated, skipped or awaiting its callback: a fan-out stopped
//     midway resumes without resending (Retry re-opens one partner for
//     `dsr retry ID --partner P`).
//   - Partner task writes are version-guarded; a redelivered callback finds
//     the outcome recorded and changes nothing (it answers the waiting state
//     again only if the first delivery failed before doing so).
//   - A callback with a bad or missing signature or a stale timestamp gets
//     401; an unknown partner or request or a malformed body 400; another
//     outcome than the one recorded 409; in each case nothing changes.
//     A callback after the deadline is recorded (completed, late) and 200.
package partner
