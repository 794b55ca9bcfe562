// Package drive plays a generated season into a running Kesu: each contact is
// filed when the simulated clock reaches its instant, through intake's gRPC
// API or as a message from another system on INBOUND, with a progress bar per
// phase. It also holds the load mode (load.go): a target rate for a duration,
// with latency percentiles beside a raw JetStream publish baseline.
package drive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// Target is the Kesu a season is played into.
type Target struct {
	Intake intakev1.IntakeServiceClient
	// JS publishes inbound contacts; nil files every contact through gRPC.
	JS jetstream.JetStream

	closers []func()
}

// Close releases the connections Dial opened.
func (t *Target) Close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
	t.closers = nil
}

// DialConfig says where Kesu is and how to authenticate.
type DialConfig struct {
	IntakeAddr string
	// NATSURL is where inbound contacts are published; empty: gRPC only.
	NATSURL string
	// NATSOptions are extra connect options (credentials).
	NATSOptions []nats.Option
	// HMACKey signs the simulator's dev token (role integration).
	HMACKey []byte
	// Subject names the simulator in the events it causes; default "simulator".
	Subject string
}

// Dial connects to intake (and NATS when configured).
func Dial(ctx context.Context, cfg DialConfig) (*Target, error) {
	if cfg.Subject == "" {
		cfg.Subject = "simulator"
	}
	tok, err := Token(cfg.HMACKey, auth.Identity{Subject: cfg.Subject, Role: auth.RoleIntegration})
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cfg.IntakeAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.Bearer(tok)))
	if err != nil {
		return nil, fmt.Errorf("intake %s: %w", cfg.IntakeAddr, err)
	}
	t := &Target{Intake: intakev1.NewIntakeServiceClient(conn)}
	t.closers = append(t.closers, func() { _ = conn.Close() })
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, append([]nats.Option{nats.Name("kesu-simulator")}, cfg.NATSOptions...)...)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("nats %s: %w", cfg.NATSURL, err)
		}
		t.closers = append(t.closers, nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.JS = js
	}
	return t, nil
}

// Token mints a dev bearer token valid for a day.
func Token(key []byte, id auth.Identity) (string, error) {
	if len(key) == 0 {
		return "", errors.New("no HMAC key to sign the simulator's token")
	}
	return auth.Mint(key, auth.ClaimsFor(id), 24*time.Hour)
}

// Outcome is what became of one contact.
type Outcome struct {
	// ComplaintID is the complaint the contact is on (gRPC only: an inbound
	// contact is filed asynchronously by intake).
	ComplaintID string
	Folded      bool
	Created     bool
	// Latency is the wall time of the FileComplaint call or of the
	// JetStream publish until its acknowledgement.
	Latency time.Duration
	Err     error
}

// Send files one contact the way it arrives: FileComplaint, or an inbound
// message published with JetStream and acknowledged by the stream.
func (t *Target) Send(ctx context.Context, c season.Contact) Outcome {
	start := time.Now()
	if c.Via == season.ViaInbound && t.JS != nil {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c.InboundMessage())
		if err != nil {
			return Outcome{Err: err}
		}
		msg := &nats.Msg{Subject: c.InboundSubject(), Data: b, Header: nats.Header{}}
		msg.Header.Set("Content-Type", "application/json")
		_, err = t.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(c.Source+":"+c.ExternalID))
		return Outcome{Latency: time.Since(start), Err: err}
	}
	res, err := t.Intake.FileComplaint(ctx, c.FileRequest())
	o := Outcome{Latency: time.Since(start), Err: err}
	if err == nil {
		o.ComplaintID, o.Folded, o.Created = res.GetComplaintId(), res.GetFolded(), res.GetCreated()
	}
	return o
}
