package main

import (
	"testing"

	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service/servicetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestBinaryServesHealthAndStopsOnSIGTERM(t *testing.T) {
	servicetest.CheckBinary(t, "reporting", nil)
}
