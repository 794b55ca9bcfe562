package adapters

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/domain"
)

// Find implements app.Complaints: newest first, keyset-paginated on
// (filed_at, complaint_id), so a page costs the same deep in the list as at
// its top and rows filed meanwhile do not shift the pages.
func (rd *Reader) Find(ctx context.Context, q app.Query) ([]*intakev1.Complaint, string, error) {
	where := []string{"shop_id = $1"}
	args := []any{q.ShopID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if q.CustomerRef != "" {
		add("customer_ref = ?", q.CustomerRef)
	}
	if q.OrderID != "" {
		add("order_id = ?", q.OrderID)
	}
	if r := q.ExternalRef; r.GetExternalId() != "" {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&complaintv1.ExternalRef{Source: r.GetSource(), ExternalId: r.GetExternalId()})
		if err != nil {
			return nil, "", err
		}
		add("external_refs @> ?::jsonb", "["+string(b)+"]")
	}
	if q.Status != intakev1.ComplaintStatus_COMPLAINT_STATUS_UNSPECIFIED {
		add("status = ?", int16(q.Status))
	}
	if !q.FiledFrom.IsZero() {
		add("filed_at >= ?", q.FiledFrom)
	}
	if !q.FiledTo.IsZero() {
		add("filed_at < ?", q.FiledTo)
	}
	if q.PageToken != "" {
		at, id, err := decodePageToken(q.PageToken)
		if err != nil {
			return nil, "", &domain.ValidationError{Violations: []domain.Violation{{Field: "page_token", Reason: err.Error()}}}
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(filed_at, complaint_id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, q.PageSize+1)
	sql := "SELECT " + strings.Join(columns, ", ") + " FROM " + Schema + ".complaints WHERE " + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY filed_at DESC, complaint_id DESC LIMIT $%d", len(args))
	rs, err := rd.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("find complaints: %w", err)
	}
	defer rs.Close()
	var rows []*row
	for rs.Next() {
		r := &row{}
		if err := rs.Scan(r.scanTargets()...); err != nil {
			return nil, "", fmt.Errorf("scan complaint: %w", err)
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > q.PageSize {
		rows = rows[:q.PageSize]
		last := rows[len(rows)-1]
		next = encodePageToken(last.FiledAt, last.ComplaintID)
	}
	out := make([]*intakev1.Complaint, 0, len(rows))
	for _, r := range rows {
		c, _, err := r.view()
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	return out, next, nil
}

// OfCustomer implements app.Complaints.
func (rd *Reader) OfCustomer(ctx context.Context, shopID, customerRef string) ([]string, error) {
	rs, err := rd.pool.Query(ctx, "SELECT complaint_id::text FROM "+Schema+".complaints WHERE shop_id = $1 AND customer_ref = $2 ORDER BY filed_at", shopID, customerRef)
	if err != nil {
		return nil, fmt.Errorf("complaints of customer: %w", err)
	}
	defer rs.Close()
	var ids []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

func encodePageToken(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodePageToken(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("not a token from a previous page")
	}
	ts, id, ok := strings.Cut(string(b), "|")
	at, terr := time.Parse(time.RFC3339Nano, ts)
	if _, uerr := uuid.Parse(id); !ok || terr != nil || uerr != nil {
		return time.Time{}, "", fmt.Errorf("not a token from a previous page")
	}
	return at, id, nil
}
