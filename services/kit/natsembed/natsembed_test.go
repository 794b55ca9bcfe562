package natsembed_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/natsembed"
)

func TestStartRejectsBadOptionsNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		opts  natsembed.Options
		field string
	}{
		{"no store dir", natsembed.Options{Port: -1}, "StoreDir"},
		{"port out of range", natsembed.Options{Port: 70000, StoreDir: t.TempDir()}, "Port"},
		{"negative max store", natsembed.Options{Port: -1, StoreDir: t.TempDir(), MaxStore: -1}, "MaxStore"},
		{"routes without cluster name", natsembed.Options{Port: -1, StoreDir: t.TempDir(), Routes: []string{"nats-route://127.0.0.1:1"}}, "ClusterName"},
		{"bad route", natsembed.Options{Port: -1, StoreDir: t.TempDir(), ClusterName: "c", Routes: []string{"::"}}, "Routes[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := natsembed.Start(tc.opts)
			if err == nil {
				natsembed.Stop(s)
			}
			if !errors.Is(err, natsembed.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("error %v, want ErrInvalidOptions naming %s", err, tc.field)
			}
		})
	}
}

func TestStartReportsAPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s, err := natsembed.Start(natsembed.Options{Port: port, StoreDir: t.TempDir(), ReadyTimeout: 2 * time.Second})
	if err == nil {
		natsembed.Stop(s)
		t.Fatalf("started on a port in use")
	}
	if !errors.Is(err, natsembed.ErrNotReady) || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("error %v, want ErrNotReady saying the listener failed", err)
	}
}

func TestStartKeepsStreamsAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	opts := natsembed.Options{Port: -1, StoreDir: dir, SyncAlways: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := natsembed.Start(opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.HasPrefix(natsembed.ClientURL(s), "nats://127.0.0.1:") {
		t.Fatalf("client URL %q is not on loopback", natsembed.ClientURL(s))
	}
	if !s.JetStreamConfig().SyncAlways {
		t.Fatalf("SyncAlways not applied")
	}
	js := connect(t, natsembed.ClientURL(s))
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "keep.1", []byte("kept")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	js.Conn().Close()
	natsembed.Stop(s)

	s, err = natsembed.Start(opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer natsembed.Stop(s)
	js = connect(t, natsembed.ClientURL(s))
	defer js.Conn().Close()
	stream, err := js.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil || string(msg.Data) != "kept" {
		t.Fatalf("message after restart: %v, %v", msg, err)
	}
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}
