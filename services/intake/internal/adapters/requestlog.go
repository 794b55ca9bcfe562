package adapters

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/intake/internal/app"
)

// RequestLog reads intake.requests, which the projection folds from the
// filings' Kesu-Request headers (app.RequestLog). Concurrent look-ups share
// one query.
type RequestLog struct {
	pool    *pgxpool.Pool
	reading batcher[string, app.RequestClaim]
}

// NewRequestLog returns the reader.
func NewRequestLog(pool *pgxpool.Pool) *RequestLog {
	l := &RequestLog{pool: pool}
	l.reading = batcher[string, app.RequestClaim]{run: l.read, max: maxBatch}
	return l
}

// Lookup implements app.RequestLog.
func (l *RequestLog) Lookup(ctx context.Context, requestKey string) (app.RequestClaim, bool, error) {
	return l.reading.get(ctx, requestKey)
}

func (l *RequestLog) read(ctx context.Context, keys []string) (map[string]app.RequestClaim, error) {
	rows, err := l.pool.Query(ctx, `SELECT request_key, complaint_id::text, fingerprint FROM `+Schema+`.requests
		WHERE request_key = ANY($1::text[])`, keys)
	if err != nil {
		return nil, fmt.Errorf("read request ids: %w", err)
	}
	defer rows.Close()
	out := make(map[string]app.RequestClaim, len(keys))
	for rows.Next() {
		var k string
		var c app.RequestClaim
		if err := rows.Scan(&k, &c.ComplaintID, &c.Fingerprint); err != nil {
			return nil, fmt.Errorf("read request ids: %w", err)
		}
		out[k] = c
	}
	return out, rows.Err()
}
