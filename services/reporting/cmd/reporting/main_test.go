package main

import (
	"path/filepath"
	"testing"

	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service/servicetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestBinaryServesHealthAndStopsOnSIGTERM(t *testing.T) {
	policy, err := filepath.Abs("../../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	servicetest.CheckBinary(t, "reporting", map[string]string{"KESU_POLICY": policy})
}
