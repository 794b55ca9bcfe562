package adapters

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/app"
	"github.com/kesu315/kesu/services/followup/internal/domain"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Reader serves the read APIs from the projection.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns the reader.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

var _ app.Views = (*Reader)(nil)

// Get implements app.Views.
func (rd *Reader) Get(ctx context.Context, complaintID string) (*followupv1.FollowUp, error) {
	if !isUUID(complaintID) {
		return nil, domain.ErrNotFound
	}
	rows, err := loadRows(ctx, rd.pool, "WHERE complaint_id = $1", complaintID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, domain.ErrNotFound
	}
	return rows[0].view(), nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F'):
		default:
			return false
		}
	}
	return true
}

// ErrBadPageToken: the page token was not issued by Queue.
var ErrBadPageToken = errors.New("page_token: not a token this API issued")

// Queue implements app.Views: keyset pagination on (queue_due, complaint_id).
func (rd *Reader) Queue(ctx context.Context, shopID string, dueBefore time.Time, pageSize int, token string) ([]*followupv1.FollowUp, string, error) {
	where := []string{"shop_id = $1", "queue_due IS NOT NULL"}
	args := []any{shopID}
	if !dueBefore.IsZero() {
		args = append(args, dueBefore)
		where = append(where, fmt.Sprintf("queue_due <= $%d", len(args)))
	}
	if token != "" {
		due, id, err := decodeToken(token)
		if err != nil {
			return nil, "", &domain.ValidationError{Violations: []domain.Violation{{Field: "page_token", Reason: "is not a token this API issued"}}}
		}
		args = append(args, due, id)
		where = append(where, fmt.Sprintf("(queue_due, complaint_id) > ($%d, $%d::uuid)", len(args)-1, len(args)))
	}
	args = append(args, pageSize+1)
	rows, err := loadRows(ctx, rd.pool, "WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY queue_due, complaint_id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		last := rows[len(rows)-1]
		next = encodeToken(last.c.QueueDue(), last.c.ID)
	}
	out := make([]*followupv1.FollowUp, len(rows))
	for i, r := range rows {
		out[i] = r.view()
	}
	return out, next, nil
}

func encodeToken(due time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(due.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeToken(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", err
	}
	d, id, ok := strings.Cut(string(b), "|")
	if !ok || !isUUID(id) {
		return time.Time{}, "", ErrBadPageToken
	}
	t, err := time.Parse(time.RFC3339Nano, d)
	return t, id, err
}

// Unclosed implements app.Views.
func (rd *Reader) Unclosed(ctx context.Context, shopID string, from, to time.Time) ([]app.SweepItem, error) {
	rs, err := rd.pool.Query(ctx, `SELECT complaint_id::text, status, stage, filed_at, severity, category, fu_due_at, owner, last_owner, level
		FROM `+Schema+`.complaints WHERE shop_id = $1 AND filed_at >= $2 AND filed_at < $3 AND status <> 3
		ORDER BY filed_at, complaint_id`, shopID, from, to)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	defer rs.Close()
	var out []app.SweepItem
	for rs.Next() {
		var (
			id, stage, category, owner, lastOwner string
			status, severity, level               int16
			filed                                 time.Time
			due                                   *time.Time
		)
		if err := rs.Scan(&id, &status, &stage, &filed, &severity, &category, &due, &owner, &lastOwner, &level); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		if level == 0 {
			level = int16(complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT) // never escalated: the front line
		}
		if owner == "" && status != int16(domain.StatusOpen) {
			owner = lastOwner // a resolved complaint is still its resolver's to close
		}
		out = append(out, app.SweepItem{Owner: owner, Level: complaintv1.EscalationLevel(level), Item: &followupv1.SweepItem{
			ComplaintId: id, Status: followupv1.ComplaintStatus(status), Stage: stage, FiledAt: timestamppb.New(filed),
			Severity: complaintv1.Severity(severity), Category: category, FollowUpDueAt: ts(tv(due)),
		}})
	}
	return out, rs.Err()
}

// CountUnclosed is the plain count the sweep benchmark compares against.
func (rd *Reader) CountUnclosed(ctx context.Context, shopID string, from, to time.Time) (int64, error) {
	var n int64
	err := rd.pool.QueryRow(ctx, `SELECT count(*) FROM `+Schema+`.complaints WHERE shop_id = $1 AND filed_at >= $2 AND filed_at < $3 AND status <> 3`,
		shopID, from, to).Scan(&n)
	return n, err
}

// Retention implements app.Views.
func (rd *Reader) Retention(ctx context.Context, shopID string, from, to time.Time) (*followupv1.RetentionResponse, error) {
	q := `SELECT count(*), count(*) FILTER (WHERE retention = $2), count(*) FILTER (WHERE retention = $3)
		FROM ` + Schema + `.complaints WHERE shop_id = $1 AND return_requested`
	args := []any{shopID, int16(complaintv1.Retention_RETENTION_KEPT), int16(complaintv1.Retention_RETENTION_RETURNED)}
	if !from.IsZero() {
		q += " AND filed_at >= $4 AND filed_at < $5"
		args = append(args, from, to)
	}
	out := &followupv1.RetentionResponse{}
	if err := rd.pool.QueryRow(ctx, q, args...).Scan(&out.Requests, &out.Kept, &out.Returned); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	out.Unknown = out.Requests - out.Kept - out.Returned
	if known := out.Kept + out.Returned; known > 0 {
		out.KeptRate = float64(out.Kept) / float64(known)
	}
	return out, nil
}

// ByRef implements app.Views.
func (rd *Reader) ByRef(ctx context.Context, ref *complaintv1.ExternalRef) (string, error) {
	var id string
	err := rd.pool.QueryRow(ctx, `SELECT complaint_id::text FROM `+Schema+`.external_refs WHERE source = $1 AND external_id = $2`,
		ref.GetSource(), ref.GetExternalId()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.ErrNotFound
	}
	return id, err
}
