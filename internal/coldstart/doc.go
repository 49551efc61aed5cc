// Package coldstart measures every function's cold start beside a
// hello-world aws-lambda-go function built the same way (CGO_ENABLED=0,
// lambda.norpc, -trimpath, -s -w; for this machine), and beside
// hello-sdk-lazy: hello-world linking the SDK clients the functions use and
// building them on the first invocation (what lazy client construction can
// reach). Each run starts the
// bootstrap against a Runtime API on loopback (internal/lambdaruntime) and
// records medians over the runs:
//
//	init-ms    process start to the first GET /runtime/invocation/next
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
// TestFunctionsLinkNoHeavyInit, which is, keeps packages with a costly
// initialisation (libphonenumber's metadata) out of the functions that do not
// need them.
package coldstart
