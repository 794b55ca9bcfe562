package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runner runs the PostgreSQL programs as the right user: ourselves, or the
// postgres system user when we are root.
type runner struct {
	cred *syscall.Credential // nil: run as ourselves
	name string              // user name, for messages
	cwd  string
}

func newRunner(dir string) (runner, error) {
	r := runner{cwd: dir}
	if os.Geteuid() != 0 {
		return r, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return r, fmt.Errorf("%w: PostgreSQL refuses to run as root; install Debian's postgresql package (it creates the postgres user) or run as a normal user: %w", ErrNoPostgresUser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return r, fmt.Errorf("%w: user postgres has a non-numeric uid %q / gid %q", ErrNoPostgresUser, u.Uid, u.Gid)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				groups = append(groups, uint32(g))
			}
		}
	}
	r.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
	r.name = "postgres"
	return r, nil
}

func (r runner) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.cwd
	cmd.Env = cleanEnv()
	// A process group of its own keeps the postmaster that pg_ctl leaves
	// behind out of the terminal's Ctrl-C: the caller decides when it stops.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: r.cred}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// output runs bin and returns its combined output.
func (r runner) output(ctx context.Context, bin string, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := r.command(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// cleanEnv drops PG* variables, which would redirect the programs to some
// other server or data directory.
func cleanEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}

// writeFile writes a file in the data directory, owned by the server's user.
func (r runner) writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", path, err)
	}
	if r.cred != nil {
		if err := os.Chown(path, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", path, err)
		}
	}
	return nil
}

// prepareDirs makes dataDir exist, private, and owned by the server's user,
// and checks that user can reach it.
func (r runner) prepareDirs(dir, dataDir string) error {
	if r.cred != nil {
		if err := r.checkSearchable(dir); err != nil {
			return err
		}
	}
	fi, err := os.Stat(dataDir)
	switch {
	case os.IsNotExist(err):
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return fmt.Errorf("pgcluster: create %s: %w", dataDir, err)
		}
		if r.cred != nil {
			if err := os.Chown(dataDir, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
				return fmt.Errorf("pgcluster: chown %s to postgres: %w", dataDir, err)
			}
		}
		return nil
	case err != nil:
		return fmt.Errorf("pgcluster: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s exists and is not a directory", ErrInvalidOptions, dataDir)
	}
	if r.cred != nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != r.cred.Uid {
			// A data directory made by another user (a run as a normal user,
			// a copy): postgres refuses it unless it owns every file.
			err := filepath.WalkDir(dataDir, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, int(r.cred.Uid), int(r.cred.Gid))
			})
			if err != nil {
				return fmt.Errorf("pgcluster: chown -R postgres %s: %w", dataDir, err)
			}
		}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dataDir, 0o700); err != nil {
			return fmt.Errorf("pgcluster: chmod 700 %s: %w", dataDir, err)
		}
	}
	return nil
}

// checkSearchable verifies that the server's user may traverse dir and all
// its parents. Dir itself is the cluster's own, so it is opened up; a parent
// is the caller's business and gets a clear error instead.
func (r runner) checkSearchable(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if !r.canSearch(fi) {
			if p == dir {
				if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
					return fmt.Errorf("pgcluster: chmod go+x %s: %w", p, err)
				}
			} else {
				return fmt.Errorf("%w: PostgreSQL runs as user %s (uid %d), which cannot enter %s (mode %s); run `chmod o+x %s` or choose a Dir whose parents are world-searchable",
					ErrNotSearchable, r.name, r.cred.Uid, p, fi.Mode().Perm(), p)
			}
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}

func (r runner) canSearch(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == r.cred.Uid:
		return mode&0o100 != 0
	case st.Gid == r.cred.Gid || slices.Contains(r.cred.Groups, st.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}
