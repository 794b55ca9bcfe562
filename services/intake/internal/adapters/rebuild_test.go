package adapters_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/adapters"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/projection"
)

// snapshot reads the whole projection as text, row by row.
func snapshot(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT c::text FROM intake.complaints c ORDER BY complaint_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// The rebuild (fold the stream in memory, COPY into staging, one merge) gives
// the projection the live runner built, row for row.
func TestRebuildEqualsLiveProjection(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleAdmin, 0)
	var last string
	for i := range 6 {
		r := request(fmt.Sprintf("req-rebuild-%d", i))
		r.OrderId = fmt.Sprintf("ORDER-R-%d", i%3) // three disputes, each reported twice
		r.ExternalRef = &complaintv1.ExternalRef{Source: "tmall", ExternalId: fmt.Sprintf("T-%d", i)}
		res, err := s.client.FileComplaint(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		last = res.GetComplaintId()
	}
	if _, err := s.client.AttachEvidence(ctx, &intakev1.AttachEvidenceRequest{ClientRequestId: "ev", ComplaintId: last,
		Kind: complaintv1.EvidenceKind_EVIDENCE_KIND_RECEIPT, MediaType: "application/pdf", SizeBytes: 1000,
		Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", StorageUri: "s3://b/k.pdf"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.EraseCustomer(ctx, &intakev1.EraseCustomerRequest{ShopId: "demo-flagship", Phone: "13800001234", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	pool := openPool(t, s.dbURL)
	// Wait until the live projection has every event of the stream.
	total := streamMessages(t, s.js)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var applied int64
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(sum(event_count), 0) FROM intake.complaints`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if uint64(applied) == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live projection applied %d of %d events", applied, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	live := snapshot(t, pool)
	if len(live) != 3 {
		t.Fatalf("%d complaints projected, want 3 (six reports of three disputes)", len(live))
	}

	runner, err := projection.New(pool, s.js, adapters.NewProjection(), projection.Config{Name: "intake-rebuild-test", Schema: adapters.Schema})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runner.Rebuild(rctx, adapters.NewProjection()); err != nil {
		t.Fatal(err)
	}
	rebuilt := snapshot(t, pool)
	if fmt.Sprint(rebuilt) != fmt.Sprint(live) {
		t.Fatalf("rebuilt projection differs:\nlive    %v\nrebuilt %v", live, rebuilt)
	}
}
