package dynamotest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// ServerOptions configure a long-running emulator (the local stack's
// DynamoDB, `make run`), as opposed to a test's in-memory one.
type ServerOptions struct {
	// Root is the repository root (node_modules, template.yaml); default RepoRoot().
	Root string
	// Port is the port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Path, if set, is the folder where dynalite keeps its data (LevelDB),
	// so tables and items survive a restart; empty keeps them in memory.
	Path string
}

// StartServer starts dynalite as StartEmulator does, on opts.Port and with
// its data under opts.Path. Stop kills it. A busy port is an error naming it.
func StartServer(ctx context.Context, opts ServerOptions) (*Emulator, error) {
	root := opts.Root
	if root == "" {
		r, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		root = r
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node not found on PATH: install Node.js, then run `make deps` to install dynalite")
	}
	script := filepath.Join(root, "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("dynalite is not installed (%s missing): run `make deps`", script)
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
	}
	args := []string{script, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
	if opts.Path != "" {
		if err := os.MkdirAll(opts.Path, 0o755); err != nil {
			return nil, fmt.Errorf("dynalite data folder: %w", err)
		}
		args = append(args, "--path", opts.Path)
	}
	cmd := exec.Command(node, args...)
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
		_ = cmd.Wait()
		close(e.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		e.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		return e, nil
	case <-e.done:
		return nil, fmt.Errorf("dynalite on port %d exited before listening (port busy, or data folder locked by another dynalite?): %s", port, e.stderr.tail())
	case <-ctx.Done():
		e.Stop()
		return nil, fmt.Errorf("dynalite on port %d: %w", port, ctx.Err())
	case <-timer.C:
		e.Stop()
		return nil, fmt.Errorf("dynalite on port %d did not listen within %s: %s", port, startTimeout, e.stderr.tail())
	}
}

// Done is closed when the emulator's process has exited.
func (e *Emulator) Done() <-chan struct{} { return e.done }

// Pid is the emulator's process ID.
func (e *Emulator) Pid() int {
	if e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}
