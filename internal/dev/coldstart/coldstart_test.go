package coldstart

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/invoke"
	"dsrflow/internal/dev/lambdaruntime"
	"dsrflow/internal/dev/samtemplate"
)

// target is one binary to measure.
type target struct {
	name  string
	bin   string
	dir   string
	env   map[string]string
	event []byte
}

var (
	buildOnce sync.Once
	targets   []target
	buildErr  error
	// awsCalls counts requests to the AWS stub.
	awsCalls atomic.Int64
	stubURL  string
)

// build compiles hello-world and every function of the template once.
func build(b *testing.B) []target {
	buildOnce.Do(func() {
		root, err := dynamotest.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			awsCalls.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, `{"__type":"ValidationException","message":"coldstart stub"}`, http.StatusBadRequest)
		}))
		stubURL = stub.URL // lives until the benchmark process ends
		out := filepath.Join(root, ".build", "coldstart")
		ctx := context.Background()
		hello := filepath.Join(out, "hello")
		bin, err := invoke.BuildPackage(ctx, root, "./internal/dev/coldstart/testdata/hello", hello, os.Stderr)
		if err != nil {
			buildErr = err
			return
		}
		targets = append(targets, target{name: "hello-world", bin: bin, dir: hello, event: []byte(`{}`)})
		sdk := filepath.Join(out, "hellosdk")
		bin, err = invoke.BuildPackage(ctx, root, "./internal/dev/coldstart/testdata/hellosdk", sdk, os.Stderr)
		if err != nil {
			buildErr = err
			return
		}
		targets = append(targets, target{name: "hello-sdk-lazy", bin: bin, dir: sdk, event: []byte(`{}`), env: map[string]string{
			"AWS_ENDPOINT_URL": stubURL, "AWS_ACCESS_KEY_ID": "coldstart", "AWS_SECRET_ACCESS_KEY": "coldstart", "AWS_REGION": "cn-north-1",
		}})
		tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
		if err != nil {
			buildErr = err
			return
		}
		fns, err := tpl.Functions()
		if err != nil {
			buildErr = err
			return
		}
		for _, fn := range fns {
			dir := filepath.Join(out, fn.LogicalID)
			bin, err := invoke.Build(ctx, root, filepath.Join(out, "no-local-stack"), fn, dir, os.Stderr)
			if err != nil {
				buildErr = err
				return
			}
			env, err := invoke.Environment(tpl, fn, invoke.Local{}, map[string]string{
				"AWS_ENDPOINT_URL":      stubURL,
				"AWS_ACCESS_KEY_ID":     "coldstart",
				"AWS_SECRET_ACCESS_KEY": "coldstart",
				"AWS_REGION":            "cn-north-1",
				"AWS_MAX_ATTEMPTS":      "1",
				// A China region has no SES: the functions that send mail
				// use an SMTP relay there; nothing listens on this port,
				// so a send fails at once, as the AWS stub does.
				"SMTP_URL": "smtp://127.0.0.1:1",
			})
			if err != nil {
				buildErr = err
				return
			}
			event, err := sampleEvent(root, fn.Name)
			if err != nil {
				buildErr = err
				return
			}
			targets = append(targets, target{name: fn.Name, bin: bin, dir: dir, env: env, event: event})
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return targets
}

// sampleEvent is the first events/<name>*.json of the function.
func sampleEvent(root, name string) ([]byte, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "events", name+"*.json"))
	sort.Strings(matches)
	for _, m := range matches {
		base := strings.TrimSuffix(filepath.Base(m), ".json")
		if base == name || strings.HasPrefix(base, name+"-") {
			return os.ReadFile(m)
		}
	}
	return nil, fmt.Errorf("no sample event events/%s*.json", name)
}

// run is one cold start of tg: its init time, the AWS calls made during
// init, and the latency of the first invocation (which builds the lazily
// made clients) and of a warm one.
func run(b *testing.B, tg target) (initDur, first, warm time.Duration, calls int64) {
	b.Helper()
	before := awsCalls.Load()
	inst, err := lambdaruntime.Start(lambdaruntime.Function{
		Path: tg.bin, Name: tg.name, Env: tg.env, Dir: tg.dir, Stdout: io.Discard, Stderr: io.Discard, Timeout: 10 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	initDur, err = inst.InitDuration(ctx)
	if err != nil {
		b.Fatalf("%s: %v", tg.name, err)
	}
	calls = awsCalls.Load() - before
	// The first invocation builds lazily created clients; the second is warm.
	start := time.Now()
	if _, err := inst.Invoke(ctx, tg.event); err != nil {
		b.Fatalf("%s: %v", tg.name, err)
	}
	first = time.Since(start)
	start = time.Now()
	if _, err := inst.Invoke(ctx, tg.event); err != nil {
		b.Fatalf("%s: %v", tg.name, err)
	}
	return initDur, first, time.Since(start), calls
}

// median of xs in milliseconds.
func median(xs []time.Duration) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m.Microseconds()) / 1000
}

// BenchmarkColdStart starts each function b.N times. Every start of a
// function is paired with a start of hello-world just before it, so that a
// change in the machine's load moves both: init-x is the median of the
// per-pair ratios, and init-ms, hello-ms and warm-ms are medians.
func BenchmarkColdStart(b *testing.B) {
	ts := build(b)
	hello := ts[0]
	for _, tg := range ts {
		b.Run(tg.name, func(b *testing.B) {
			st, err := os.Stat(tg.bin)
			if err != nil {
				b.Fatal(err)
			}
			var inits, hellos, firsts, warms []time.Duration
			var ratios []float64
			var initCalls int64
			for b.Loop() {
				if tg.name != hello.name {
					h, _, _, _ := run(b, hello)
					hellos = append(hellos, h)
				}
				d, first, warm, calls := run(b, tg)
				inits, firsts, warms = append(inits, d), append(firsts, first), append(warms, warm)
				initCalls += calls
				if tg.name != hello.name {
					ratios = append(ratios, float64(d)/float64(hellos[len(hellos)-1]))
				}
			}
			b.ReportMetric(median(inits), "init-ms")
			b.ReportMetric(median(firsts), "first-ms")
			b.ReportMetric(median(warms), "warm-ms")
			b.ReportMetric(float64(st.Size())/1e6, "MB")
			b.ReportMetric(float64(initCalls)/float64(b.N), "init-aws")
			if len(ratios) > 0 {
				b.ReportMetric(median(hellos), "hello-ms")
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "init-x")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
