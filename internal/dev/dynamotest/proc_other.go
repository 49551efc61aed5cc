//go:build unix && !linux

package dynamotest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the emulator in its own process group so Stop can kill
// everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
