// Package dynamotest runs a real DynamoDB emulator (dynalite, pinned in the
// repository's package-lock.json) for tests, in the spirit of net/http/httptest.
//
// One emulator serves a whole test package; each test gets its own table, created
// from template.yaml, so tests can run in parallel:
//
//	var emu *dynamotest.Emulator
//
//	func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }
//
//	func TestX(t *testing.T) {
//		t.Parallel()
//		table := emu.NewTable(t)
//		st := store.New(emu.Client(), table)
//		...
//	}
package dynamotest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dsrflow/internal/store/tableschema"
)

// Region is the region the emulator's clients use.
const Region = "us-east-1"

// startTimeout bounds how long the emulator may take to start listening.
const startTimeout = 30 * time.Second

// Emulator is a running dynalite process.
type Emulator struct {
	// Endpoint is the emulator's base URL, e.g. http://127.0.0.1:38211.
	Endpoint string
	// Root is the repository root (the folder holding go.mod and template.yaml).
	Root string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	// stopping is set by Stop: an exit before it is unexpected.
	stopping atomic.Bool
	stderr   *lockedBuffer

	clientOnce sync.Once
	client     *dynamodb.Client

	schemaOnce sync.Once
	schema     *tableschema.Table
	schemaErr  error

	tables atomic.Int64
	stop   sync.Once
}

// Main starts an emulator, stores it in *emu, runs the tests and stops the
// emulator, returning the exit code for os.Exit. Use it from TestMain.
func Main(m *testing.M, emu **Emulator) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	e, err := StartEmulator(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest:", err)
		return 1
	}
	defer e.Stop()
	*emu = e
	return m.Run()
}

// StartEmulator starts dynalite on a free local port and waits until it listens.
// It fails with a message naming `make deps` when dynalite is not installed.
func StartEmulator(ctx context.Context) (*Emulator, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return startIn(ctx, root)
}

// startIn starts the dynalite installed under root/node_modules.
func startIn(ctx context.Context, root string) (*Emulator, error) {
	node, script, err := findDynalite(root)
	if err != nil {
		return nil, err
	}
	// A port picked by the kernel can be taken again before dynalite binds it;
	// try a few times.
	var lastErr error
	for range 3 {
		e, err := start(ctx, root, node, script)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// findDynalite returns node's path and the dynalite script under
// root/node_modules, or an error saying what to install.
func findDynalite(root string) (node, script string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", errors.New("node not found on PATH: install Node.js, then run `make deps` to install dynalite")
	}
	script = filepath.Join(root, "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(script); err != nil {
		return "", "", fmt.Errorf("dynalite is not installed (%s missing): run `make deps`", script)
	}
	return node, script, nil
}

var listening = regexp.MustCompile(`Dynalite listening at: (\S+)`)

func start(ctx context.Context, root, node, script string) (*Emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	return launch(ctx, root, node, script, port, nil, "")
}

// launch runs dynalite on 127.0.0.1:port with extra arguments and waits
// until it listens. exitHint follows "exited before listening" in the error
// when the process ends first.
func launch(ctx context.Context, root, node, script string, port int, extra []string, exitHint string) (*Emulator, error) {
	// abortguard.cjs keeps dynalite up when a client aborts a request.
	args := []string{"--require", filepath.Join(root, "internal", "dev", "dynamotest", "abortguard.cjs"), script,
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(port),
		// Tables are ACTIVE at once (the default keeps them CREATING for 500ms).
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0",
	}
	cmd := exec.Command(node, append(args, extra...)...)
	cmd.Dir = root
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Root: root, cmd: cmd, done: make(chan struct{}), stderr: &lockedBuffer{}}
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	ready := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if listening.MatchString(sc.Text()) {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		err := cmd.Wait()
		if !e.stopping.Load() {
			// Every test on this emulator fails from here on with
			// "connection refused": say why the emulator went away.
			fmt.Fprintf(os.Stderr, "dynamotest: dynalite on port %d exited unexpectedly (%v): %s\n", port, err, e.stderr.tail())
		}
		close(e.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		e.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		return e, nil
	case <-e.done:
		return nil, fmt.Errorf("dynalite on port %d exited before listening%s: %s", port, exitHint, e.stderr.tail())
	case <-ctx.Done():
		e.Stop()
		return nil, fmt.Errorf("dynalite on port %d: %w", port, ctx.Err())
	case <-timer.C:
		e.Stop()
		return nil, fmt.Errorf("dynalite on port %d did not listen within %s: %s", port, startTimeout, e.stderr.tail())
	}
}

// Stop kills the emulator's process group and waits for it to exit. It is safe
// to call more than once.
func (e *Emulator) Stop() {
	e.stop.Do(func() {
		e.stopping.Store(true)
		killGroup(e.cmd)
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// Client returns a DynamoDB client for the emulator (static dummy credentials,
// region us-east-1).
func (e *Emulator) Client() *dynamodb.Client {
	e.clientOnce.Do(func() {
		e.client = NewClient(e.Endpoint)
	})
	return e.client
}

// NewClient returns a DynamoDB client for a local endpoint, with static dummy
// credentials and region us-east-1.
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("dynamotest", "dynamotest", ""),
	}, optFns...)
}

// Schema returns the requests table as defined in template.yaml.
func (e *Emulator) Schema() (*tableschema.Table, error) {
	e.schemaOnce.Do(func() {
		e.schema, e.schemaErr = tableschema.Load(filepath.Join(e.Root, "template.yaml"), tableschema.RequestsTable)
	})
	return e.schema, e.schemaErr
}

// CreateTable creates the requests table of template.yaml under name and waits
// until it is active.
func (e *Emulator) CreateTable(ctx context.Context, name string) error {
	schema, err := e.Schema()
	if err != nil {
		return err
	}
	in, err := schema.CreateTableInput(name)
	if err != nil {
		return err
	}
	c := e.Client()
	if _, err := c.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}

// NewTable creates a fresh requests table with a unique name for tb and deletes
// it when tb finishes. It returns the table name.
func (e *Emulator) NewTable(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%03d-%s", e.tables.Add(1), sanitize(tb.Name()))
	if len(name) > 255 {
		name = name[:255]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.CreateTable(ctx, name); err != nil {
		tb.Fatalf("dynamotest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.Client().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			tb.Errorf("dynamotest: delete table %s: %v", name, err)
		}
	})
	return name
}

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func sanitize(s string) string { return unsafe.ReplaceAllString(s, "_") }

// RepoRoot walks up from the working directory to the folder holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects the emulator's stderr for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 64<<10 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return "(no output on stderr)"
	}
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
