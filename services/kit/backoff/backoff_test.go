package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelaysDoubleUpToMaxAndReset(t *testing.T) {
	b := Backoff{Min: time.Microsecond, Max: 8 * time.Microsecond}
	for _, want := range []time.Duration{1, 2, 4, 8, 8} {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if b.cur != want*time.Microsecond {
			t.Fatalf("delay %v, want %v", b.cur, want*time.Microsecond)
		}
	}
	b.Reset()
	_ = b.Wait(context.Background())
	if b.cur != time.Microsecond {
		t.Fatalf("after Reset delay %v, want Min", b.cur)
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Min: time.Hour, Max: time.Hour}
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}
