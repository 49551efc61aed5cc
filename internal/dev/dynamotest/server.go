package dynamotest

import (
	"context"
	"fmt"
	"os"
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
	node, script, err := findDynalite(root)
	if err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
	}
	var extra []string
	if opts.Path != "" {
		if err := os.MkdirAll(opts.Path, 0o755); err != nil {
			return nil, fmt.Errorf("dynalite data folder: %w", err)
		}
		extra = []string{"--path", opts.Path}
	}
	return launch(ctx, root, node, script, port, extra, " (port busy, or data folder locked by another dynalite?)")
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
