package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// debianRoot is where Debian installs each PostgreSQL major version.
const debianRoot = "/usr/lib/postgresql"

var requiredBins = []string{"initdb", "pg_ctl", "postgres"}

// findBinDir locates a directory with initdb, pg_ctl and postgres: the one
// given, else the one matching the data directory's version, else PATH, else
// the highest Debian version.
func findBinDir(hint, dataVersion string) (string, error) {
	if hint != "" {
		if missing := missingBin(hint); missing != "" {
			return "", fmt.Errorf("%w (%s) in BinDir %s: install Debian's postgresql package or fix BinDir", ErrBinariesNotFound, missing, hint)
		}
		return hint, nil
	}
	if dataVersion != "" {
		// A cluster only starts with the major version that created it.
		if d := filepath.Join(debianRoot, dataVersion, "bin"); missingBin(d) == "" {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// PATH often holds symlinks (/usr/local/bin/pg_ctl); pg_ctl finds
		// postgres next to its real location, so resolve it.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if d := filepath.Dir(real); missingBin(d) == "" {
				return d, nil
			}
		}
	}
	if d := highestDebian(); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("%w (initdb): install Debian's postgresql package (apt-get install postgresql) or set BinDir", ErrBinariesNotFound)
}

func missingBin(dir string) string {
	for _, b := range requiredBins {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return b
		}
	}
	return ""
}

func highestDebian() string {
	entries, err := os.ReadDir(debianRoot)
	if err != nil {
		return ""
	}
	best, bestDir := -1.0, ""
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "15", "9.6"
		if err != nil {
			continue
		}
		d := filepath.Join(debianRoot, e.Name(), "bin")
		if v > best && missingBin(d) == "" {
			best, bestDir = v, d
		}
	}
	return bestDir
}

// dataVersion is the major version recorded in PG_VERSION, or "" when the
// directory holds no cluster yet.
func dataVersion(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
