package coldstart

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dsrflow/internal/dynamotest"
	"dsrflow/internal/invoke"
	"dsrflow/internal/lambdaruntime"
	"dsrflow/internal/samtemplate"
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
		bin, err := invoke.BuildPackage(ctx, root, "./internal/coldstart/testdata/hello", hello, os.Stderr)
		if err != nil {
			buildErr = err
			return
		}
		targets = append(targets, target{name: "hello-world", bin: bin, dir: hello, event: []byte(`{}`)})
		sdk := filepath.Join(out, "hellosdk")
		bin, err = invoke.BuildPackage(ctx, root, "./internal/coldstart/testdata/hellosdk", sdk, os.Stderr)
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

// BenchmarkColdStart starts each function b.N times.
func BenchmarkColdStart(b *testing.B) {
	ts := build(b)
	var helloInit float64
	for _, tg := range ts {
		b.Run(tg.name, func(b *testing.B) {
			st, err := os.Stat(tg.bin)
			if err != nil {
				b.Fatal(err)
			}
			var initTotal, warmTotal time.Duration
			var initCalls int64
			for b.Loop() {
				before := awsCalls.Load()
				inst, err := lambdaruntime.Start(lambdaruntime.Function{
					Path: tg.bin, Name: tg.name, Env: tg.env, Dir: tg.dir, Stdout: io.Discard, Stderr: io.Discard, Timeout: 10 * time.Second,
				})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				d, err := inst.InitDuration(ctx)
				if err != nil {
					cancel()
					inst.Stop()
					b.Fatalf("%s: %v", tg.name, err)
				}
				initCalls += awsCalls.Load() - before
				initTotal += d
				// The first invocation builds lazily created clients; the
				// second is warm.
				if _, err := inst.Invoke(ctx, tg.event); err != nil {
					b.Fatalf("%s: %v", tg.name, err)
				}
				start := time.Now()
				if _, err := inst.Invoke(ctx, tg.event); err != nil {
					b.Fatalf("%s: %v", tg.name, err)
				}
				warmTotal += time.Since(start)
				cancel()
				inst.Stop()
			}
			n := float64(b.N)
			initMS := float64(initTotal.Microseconds()) / 1000 / n
			b.ReportMetric(initMS, "init-ms")
			b.ReportMetric(float64(warmTotal.Microseconds())/1000/n, "warm-ms")
			b.ReportMetric(float64(st.Size())/1e6, "MB")
			b.ReportMetric(float64(initCalls)/n, "init-aws")
			if tg.name == "hello-world" {
				helloInit = initMS
			} else if helloInit > 0 {
				b.ReportMetric(initMS/helloInit, "init-x")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
