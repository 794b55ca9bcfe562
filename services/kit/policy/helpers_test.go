package policy

import (
	"testing"
	"time"
)

const shippedPath = "../../../deploy/config/kesu.yaml"

// shipped loads the default policy Kesu ships; every behaviour test runs on
// it so the file and the code cannot drift apart.
func shipped(t testing.TB) *Policy {
	t.Helper()
	p, err := Load(shippedPath)
	if err != nil {
		t.Fatalf("shipped policy: %v", err)
	}
	return p
}

func minimal(t testing.TB) *Policy {
	t.Helper()
	p, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatalf("minimal policy: %v", err)
	}
	return p
}

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err) // compiled in through time/tzdata
	}
	return loc
}

func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, shanghai())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func date(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func yuan(t testing.TB, s string) Fen {
	t.Helper()
	f, err := ParseYuan(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
