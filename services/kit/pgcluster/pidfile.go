package pgcluster

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// pidFile is what a postmaster writes to PGDATA/postmaster.pid.
type pidFile struct {
	pid    int
	port   int
	status string // "starting", "ready", "stopping", "standby"
}

// readLivePIDFile reports the postmaster running on dataDir, if any. A pid
// file whose process is gone, or is now some other program (pids are reused,
// notably in containers after a restart), is stale.
func readLivePIDFile(dataDir string) (pidFile, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, false
	}
	lines := strings.Split(string(b), "\n")
	var pf pidFile
	pf.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if pf.pid < 0 { // a single-user backend writes its pid negated
		pf.pid = -pf.pid
	}
	if len(lines) > 3 {
		pf.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 7 {
		pf.status = strings.TrimSpace(lines[7])
	}
	if pf.pid == 0 || pf.port == 0 {
		return pf, false
	}
	if err := syscall.Kill(pf.pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return pf, false
	}
	if runtime.GOOS == "linux" && !isPostmasterOf(pf.pid, dataDir) {
		return pf, false
	}
	return pf, true
}

// isPostmasterOf checks through /proc that pid is a postgres server whose
// working directory (the postmaster chdirs to PGDATA) or command line is
// dataDir.
func isPostmasterOf(pid int, dataDir string) bool {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	if cwd, err := os.Readlink(filepath.Join(proc, "cwd")); err == nil {
		return cwd == want || cwd == dataDir
	}
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return true // cannot tell: assume it is, rather than start a second server
	}
	args := strings.Split(string(cmdline), "\x00")
	return slices.Contains(args, dataDir) || slices.Contains(args, want)
}

// removeStaleLocks deletes the pid file and socket lock files of a server
// that is no longer running. PostgreSQL removes them itself only when their
// pid is unused, which a reused pid defeats.
func removeStaleLocks(dataDir string, log *slog.Logger) {
	pidPath := filepath.Join(dataDir, "postmaster.pid")
	if _, err := os.Stat(pidPath); err == nil {
		log.Warn("removing stale postmaster.pid left by a server that is gone", "path", pidPath)
		_ = os.Remove(pidPath)
	}
	locks, _ := filepath.Glob(filepath.Join(dataDir, ".s.PGSQL.*"))
	for _, l := range locks {
		_ = os.Remove(l)
	}
}
