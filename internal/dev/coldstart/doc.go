// Package coldstart measures the cold start of the functions a person waits
// on, intake-web (the privacy center) and partner-callback (a partner's
// system waits for its answer), beside a hello-world aws-lambda-go function
// built the same way (CGO_ENABLED=0, lambda.norpc, -trimpath, -s -w; for
// this machine). Their budget (issue 14): init plus first invocation within
// 3x of hello-world's, with upstream libraries. The asynchronous workflow
// tasks and intake-mail have no budget; BenchmarkColdStartInfo lists them
// for information, with two more baselines: hello-sdk-lazy (hello-world
// linking the SDK clients the functions use and building them on the first
// invocation) and hello-phone (hello-world reading a phone number with
// internal/phone, upstream libphonenumber).
//
// Each run starts the bootstrap against a Runtime API on loopback
// (internal/dev/lambdaruntime), just after a start of hello-world (pairs, so
// that the machine's load moves both), and records medians over the runs:
//
//	init-ms         process start to the first GET /runtime/invocation/next
//	first-ms        the first invocation, which builds the clients made
//	                lazily (internal/lazyinit); AWS calls go to a loopback
//	                stub that answers 400 at once
//	total-ms        init-ms + first-ms: what the first person waits for
//	warm-ms         one invocation after the first
//	hello-init-ms   hello-world's init, and hello-total-ms its init plus
//	hello-total-ms  first invocation, in the same pairs
//	init-x          median over the pairs of init / hello-world's init
//	total-x         median over the pairs of total / hello-world's total:
//	                the budgeted figure (at most 3)
//	MB              the binary's size
//	init-aws        AWS requests made before the first /next (must be 0:
//	                no network calls at init)
//
// intake-web is measured on two first events: the form page (GET /) and a
// form sent with a phone number (POST).
//
// Run with `make coldstart` (the budgeted functions) or `make coldstart-all`
// (every function); neither is part of make test, and the budget is
// reported, not asserted.
//
// What keeps the two functions' init small (TestFunctionsLinkNoHeavyInit,
// part of make test, keeps the costly packages out of them):
//
//   - AWS clients are built on the first invocation (internal/lazyinit)
//     from the environment by internal/awsenv, which a differential test
//     holds to config.LoadDefaultConfig's results; LoadDefaultConfig itself
//     would link the SSO, OIDC, STS and sign-in clients.
//   - Each links only the clients it uses: partner-callback S3 (exports),
//     intake-web SES v1 (whose client initialises in 0.5 ms against v2's
//     2.5 ms); neither links enmime (mail parsing) or templ (intake-web's
//     pages excepted).
//   - libphonenumber (github.com/nyaruka/phonenumbers, upstream) decodes
//     all of its metadata when the program starts: only intake-web, which
//     reads numbers people type, links it, and pays for it in its init.
package coldstart
