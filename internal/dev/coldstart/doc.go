// Package coldstart measures every function's cold start beside a
// hello-world aws-lambda-go function built the same way (CGO_ENABLED=0,
// lambda.norpc, -trimpath, -s -w; for this machine), and beside
// hello-sdk-lazy: hello-world linking the SDK clients the functions use and
// building them on the first invocation (what lazy client construction can
// reach). Each run starts the
// bootstrap against a Runtime API on loopback (internal/dev/lambdaruntime) and
// records medians over the runs:
//
//	init-ms    process start to the first GET /runtime/invocation/next
//	first-ms   the first invocation, which builds the clients made lazily
//	           (and, in intake, loads libphonenumber if the event has a phone)
//	warm-ms    one invocation after the first, on the function's first sample
//	           event (events/<name>*.json); AWS calls go to a loopback stub
//	           that answers 400 at once, so this is the handler and runtime
//	           overhead up to its first AWS call
//	MB         the binary's size
//	init-aws   AWS requests made before the first /next (must be 0: no
//	           network calls at init)
//	hello-ms   hello-world's init, started just before each start of the
//	           function (pairs, so that the machine's load moves both)
//	init-x     the median over the pairs of the function's init divided by
//	           hello-world's (target: at most 2)
//
// Run with `make coldstart` (it builds every function; not part of make test).
//
// On the Firecracker VM this was tuned on (as in Lambda) a page fault costs
// about 20 µs, so init time follows the pages a process touches before its
// first /next: heap allocated by package initialisation, and code and data
// of each package initialised. What keeps the functions within 2x of
// hello-world (profiles with perf; figures are shares of hello-world's init):
//
//   - AWS clients are built on the first invocation (internal/lazyinit) from
//     the environment (internal/awsenv), not config.LoadDefaultConfig, which
//     links the SSO, OIDC, STS and sign-in clients (0.35x).
//   - A function links only the clients it uses: S3 through s3bucket for the
//     functions marked UsesExports (0.1x), SES for those marked SendsMail;
//     and SES is the v1 API (SendRawEmail), whose client initialises in
//     0.5 ms against v2's 2.5 ms (0.15x).
//   - No text/template executor: it calls reflect's MethodByName with a
//     name known only at run time, so the linker keeps every exported method
//     of every type; binaries doubled and init grew by 0.3x. HTML pages are
//     templ components, compiled to Go.
//   - Regular expressions with counted repetition ({1,255}) compile to that
//     many copies: such checks are loops, other patterns compile on first use.
//   - libphonenumber is patched to load its metadata on first use
//     (third_party/phonenumbers, 15 ms at init unpatched); enmime and its HTML
//     and charset packages only parse mail (intake-mail); notify composes
//     with the standard library.
//
// What remains is mostly the SDK itself: the DynamoDB client's schema
// package alone allocates 590 KB at init (about 0.25x), and every service's
// endpoint tables about 80 KB. TestFunctionsLinkNoHeavyInit (part of make
// test) keeps the costly packages out of the functions that do not need them.
package coldstart
