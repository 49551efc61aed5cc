// Command dsr is the dsrflow operator and developer tool.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"dsrflow/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
