package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DisputesBucket is the key-value bucket of open disputes.
const DisputesBucket = "INTAKE_DISPUTES"

// DisputeIndex maps (shop, customer, order) to the complaint holding that
// dispute, in a JetStream key-value bucket: Create and Update with the
// revision are compare-and-set per key, which is what makes two channels
// reporting one dispute at the same moment agree on one complaint.
//
// Deprecated: FileComplaint no longer uses it; the dispute is claimed by the
// filing's own append to a complaint id derived from the dispute (see
// app.FileComplaint), one durable write instead of two. Kept for the
// coordinator to remove together with the INTAKE_DISPUTES bucket.
type DisputeIndex struct {
	kv jetstream.KeyValue
}

// NewDisputeIndex creates or updates the bucket. Entries outlive any dispute
// window: a dispute is long settled after a year.
func NewDisputeIndex(ctx context.Context, js jetstream.JetStream, replicas int) (*DisputeIndex, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      DisputesBucket,
		Description: "intake: the complaint holding each (shop, customer, order) dispute",
		History:     1,
		TTL:         365 * 24 * time.Hour,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("dispute index bucket %s: %w", DisputesBucket, err)
	}
	return &DisputeIndex{kv: kv}, nil
}

func disputeKey(shopID, customerRef, orderID string) string {
	sum := sha256.Sum256([]byte(customerRef + "\x00" + orderID))
	return shopID + "." + hex.EncodeToString(sum[:16])
}

// Claim implements app.DisputeIndex.
func (d *DisputeIndex) Claim(ctx context.Context, shopID, customerRef, orderID, complaintID string) (string, uint64, bool, error) {
	k := disputeKey(shopID, customerRef, orderID)
	rev, err := d.kv.Create(ctx, k, []byte(complaintID))
	if err == nil {
		return complaintID, rev, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", 0, false, fmt.Errorf("claim dispute %s: %w", k, err)
	}
	e, err := d.kv.Get(ctx, k)
	if err != nil {
		return "", 0, false, fmt.Errorf("read dispute %s: %w", k, err)
	}
	return string(e.Value()), e.Revision(), false, nil
}

// Replace implements app.DisputeIndex.
func (d *DisputeIndex) Replace(ctx context.Context, shopID, customerRef, orderID, complaintID string, revision uint64) (bool, error) {
	k := disputeKey(shopID, customerRef, orderID)
	_, err := d.kv.Update(ctx, k, []byte(complaintID), revision)
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return false, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, fmt.Errorf("replace dispute %s: %w", k, err)
}
