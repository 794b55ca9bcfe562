// Package adapters connects intake's app layer to NATS and PostgreSQL: the
// request-id index in a JetStream key-value bucket, the intake projection and
// its reader, and the migrations of the intake schema.
package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/intake/internal/app"
)

// RequestsBucket is the key-value bucket of client request ids.
const RequestsBucket = "INTAKE_REQUESTS"

// RequestIndex keeps the client request ids of AddContact and AttachEvidence
// in a JetStream key-value bucket: one JetStream round trip, linearisable per
// key (Create is a publish expecting the key's last sequence to be 0).
// FileComplaint needs no claim: its ids are derived from the request (see
// app.FileComplaint) and its request ids are recorded in intake.requests.
type RequestIndex struct {
	kv jetstream.KeyValue
}

// RequestIndexConfig sizes the bucket.
type RequestIndexConfig struct {
	Replicas int
	// TTL is how long a request id is remembered; callers retry within minutes,
	// integrations replay within days. Default 30 days.
	TTL time.Duration
}

// NewRequestIndex creates or updates the bucket.
func NewRequestIndex(ctx context.Context, js jetstream.JetStream, cfg RequestIndexConfig) (*RequestIndex, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      RequestsBucket,
		Description: "intake: client request ids of FileComplaint, for idempotency",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("request index bucket %s: %w", RequestsBucket, err)
	}
	return &RequestIndex{kv: kv}, nil
}

// key hashes the request id: callers choose it freely (any UTF-8, up to 128
// characters) while bucket keys allow only a few ASCII characters.
func key(shopID, requestID string) string {
	sum := sha256.Sum256([]byte(requestID))
	return shopID + "." + hex.EncodeToString(sum[:16])
}

// Claim implements app.RequestIndex.
func (r *RequestIndex) Claim(ctx context.Context, shopID, requestID string, c app.RequestClaim) (app.RequestClaim, bool, error) {
	k := key(shopID, requestID)
	val, err := json.Marshal(c)
	if err != nil {
		return app.RequestClaim{}, false, err
	}
	_, err = r.kv.Create(ctx, k, val)
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return app.RequestClaim{}, false, fmt.Errorf("claim %s: %w", k, err)
	}
	entry, err := r.kv.Get(ctx, k)
	if err != nil {
		return app.RequestClaim{}, false, fmt.Errorf("read claim %s: %w", k, err)
	}
	var held app.RequestClaim
	if err := json.Unmarshal(entry.Value(), &held); err != nil {
		return app.RequestClaim{}, false, fmt.Errorf("read claim %s: %w", k, err)
	}
	return held, false, nil
}
