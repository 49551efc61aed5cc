package dynamotest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the emulator in its own process group (so Stop can kill
// everything it started) and has the kernel kill it if the test binary dies
// without calling Stop (a panic, a timeout, a kill).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// A negative pid signals the whole process group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
