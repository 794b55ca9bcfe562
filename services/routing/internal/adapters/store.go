package adapters

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

// Roster keeps routing.agents. Presence changes are not complaint events:
// they are frequent, belong to no complaint, and only the latest matters,
// so they live in routing's own table next to the load the assignment reads.
type Roster struct{ pool *pgxpool.Pool }

// NewRoster returns the roster store.
func NewRoster(pool *pgxpool.Pool) *Roster { return &Roster{pool: pool} }

const agentCols = `a.agent_id, a.name, a.tier, a.skills, a.capacity, a.shops, a.presence, a.presence_since, COALESCE(l.open, 0)`
const agentFrom = ` FROM ` + Schema + `.agents a LEFT JOIN ` + Schema + `.agent_load l USING (agent_id) `

func scanAgents(rs pgx.Rows) ([]*domain.Agent, error) {
	defer rs.Close()
	var out []*domain.Agent
	for rs.Next() {
		a := &domain.Agent{}
		var tier, presence int16
		var capacity, load int32
		if err := rs.Scan(&a.ID, &a.Name, &tier, &a.Skills, &capacity, &a.Shops, &presence, &a.PresenceSince, &load); err != nil {
			return nil, fmt.Errorf("scan agent: %w", err)
		}
		a.Tier, a.Capacity, a.Presence, a.Load = int(tier), int(capacity), domain.Presence(presence), int(load)
		out = append(out, a)
	}
	return out, rs.Err()
}

func (r *Roster) one(ctx context.Context, id string) (*domain.Agent, error) {
	rs, err := r.pool.Query(ctx, `SELECT `+agentCols+agentFrom+`WHERE a.agent_id = $1`, id)
	if err != nil {
		return nil, err
	}
	list, err := scanAgents(rs)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, domain.ErrNotFound
	}
	return list[0], nil
}

// Agent implements app.Roster.
func (r *Roster) Agent(ctx context.Context, id string) (*domain.Agent, error) { return r.one(ctx, id) }

// Upsert implements app.Roster.
func (r *Roster) Upsert(ctx context.Context, a *domain.Agent, now time.Time) (*domain.Agent, error) {
	shops := a.Shops
	if shops == nil {
		shops = []string{}
	}
	_, err := r.pool.Exec(ctx, `INSERT INTO `+Schema+`.agents (agent_id, name, tier, skills, capacity, shops, presence, presence_since, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 3, $7, $7)
		ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name, tier = EXCLUDED.tier, skills = EXCLUDED.skills,
			capacity = EXCLUDED.capacity, shops = EXCLUDED.shops, updated_at = EXCLUDED.updated_at`,
		a.ID, a.Name, a.Tier, a.Skills, a.Capacity, shops, now)
	if err != nil {
		return nil, fmt.Errorf("upsert agent %s: %w", a.ID, err)
	}
	return r.one(ctx, a.ID)
}

// SetPresence implements app.Roster; the "since" moves only on a change, so
// repeating "offline" does not restart the grace period.
func (r *Roster) SetPresence(ctx context.Context, id string, p domain.Presence, now time.Time) (*domain.Agent, error) {
	tag, err := r.pool.Exec(ctx, `UPDATE `+Schema+`.agents SET presence = $2,
		presence_since = CASE WHEN presence <> $2 THEN $3 ELSE presence_since END, updated_at = $3 WHERE agent_id = $1`, id, int16(p), now)
	if err != nil {
		return nil, fmt.Errorf("set presence of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, domain.ErrNotFound
	}
	return r.one(ctx, id)
}

// List implements app.Roster.
func (r *Roster) List(ctx context.Context, queue string, p domain.Presence) ([]*domain.Agent, error) {
	rs, err := r.pool.Query(ctx, `SELECT `+agentCols+agentFrom+`WHERE ($1 = '' OR a.skills @> ARRAY[$1]) AND ($2 = 0 OR a.presence = $2) ORDER BY a.agent_id`, queue, int16(p))
	if err != nil {
		return nil, err
	}
	return scanAgents(rs)
}

// WithRoom implements app.Roster: the 200 least loaded, so one sweep stays
// bounded when waiting work fits none of them (tier, shop).
func (r *Roster) WithRoom(ctx context.Context) ([]string, error) {
	rs, err := r.pool.Query(ctx, `SELECT a.agent_id`+agentFrom+`WHERE a.presence = 1 AND COALESCE(l.open, 0) < a.capacity
		AND EXISTS (SELECT 1 FROM `+Schema+`.queue_counts q WHERE q.queue = ANY(a.skills) AND q.unassigned > 0)
		ORDER BY COALESCE(l.open, 0), a.agent_id LIMIT 200`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rs, pgx.RowTo[string])
}

// OfflineSince implements app.Roster.
func (r *Roster) OfflineSince(ctx context.Context, t time.Time) ([]*domain.Agent, error) {
	rs, err := r.pool.Query(ctx, `SELECT `+agentCols+agentFrom+`WHERE a.presence = 3 AND a.presence_since <= $1 AND COALESCE(l.open, 0) > 0 ORDER BY a.agent_id`, t)
	if err != nil {
		return nil, err
	}
	return scanAgents(rs)
}

// Pool implements app.Roster.
func (r *Roster) Pool(ctx context.Context) (*domain.Pool, error) {
	rs, err := r.pool.Query(ctx, `SELECT `+agentCols+agentFrom)
	if err != nil {
		return nil, err
	}
	list, err := scanAgents(rs)
	if err != nil {
		return nil, err
	}
	return domain.NewPool(list), nil
}

// PoolTx is Pool as the projection's transaction sees it.
func (r *Roster) PoolTx(ctx context.Context, tx pgx.Tx) (*domain.Pool, error) {
	rs, err := tx.Query(ctx, `SELECT `+agentCols+agentFrom)
	if err != nil {
		return nil, err
	}
	list, err := scanAgents(rs)
	if err != nil {
		return nil, err
	}
	return domain.NewPool(list), nil
}

// Reader serves the read APIs from routing.items.
type Reader struct{ pool *pgxpool.Pool }

// NewReader returns the reader.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

type cursor struct {
	rank      int16
	due, filw time.Time
	id        string
}

func (c cursor) token() string {
	s := fmt.Sprintf("%d|%d|%d|%s", c.rank, c.due.UnixNano(), c.filw.UnixNano(), c.id)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseToken(t string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return cursor{}, app.ErrBadToken
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 || eventstore.ValidateComplaintID(parts[3]) != nil {
		return cursor{}, app.ErrBadToken
	}
	rank, e1 := strconv.Atoi(parts[0])
	due, e2 := strconv.ParseInt(parts[1], 10, 64)
	filed, e3 := strconv.ParseInt(parts[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return cursor{}, app.ErrBadToken
	}
	return cursor{rank: int16(rank), due: time.Unix(0, due).UTC(), filw: time.Unix(0, filed).UTC(), id: parts[3]}, nil
}

// pageSQL builds the keyset query of a page: page 100 costs what page 1 does.
func pageSQL(q app.QueueQuery) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where = append(where, "status = 1")
	if q.Owner != "" {
		where = append(where, "owner = "+arg(q.Owner), "owner <> ''")
	} else {
		where = append(where, "queue = "+arg(q.Queue))
	}
	if q.UnassignedOnly {
		where = append(where, "owner = ''")
	}
	if q.ShopID != "" {
		where = append(where, "shop_id = "+arg(q.ShopID))
	}
	if q.PageToken != "" {
		c, err := parseToken(q.PageToken)
		if err != nil {
			return "", nil, err
		}
		where = append(where, fmt.Sprintf("(sev_rank, due_at, filed_at, complaint_id) > (%s, %s, %s, %s::uuid)", arg(c.rank), arg(c.due), arg(c.filw), arg(c.id)))
	}
	cols := columns[:len(columns)-1]
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + Schema + ".items WHERE " + strings.Join(where, " AND ") +
		" ORDER BY sev_rank, due_at, filed_at, complaint_id LIMIT " + strconv.Itoa(q.PageSize+1), args, nil
}

func scanPage(rs pgx.Rows, q app.QueueQuery) ([]*routingv1.WorkItem, string, error) {
	defer rs.Close()
	var rows []*row
	for rs.Next() {
		r := &row{}
		if err := rs.Scan(r.scanTargets()[:len(columns)-1]...); err != nil {
			return nil, "", fmt.Errorf("scan item: %w", err)
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > q.PageSize {
		rows = rows[:q.PageSize]
		l := rows[len(rows)-1]
		next = cursor{rank: l.SevRank, due: l.DueAt, filw: l.FiledAt, id: l.ComplaintID}.token()
	}
	out := make([]*routingv1.WorkItem, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.item(q.Now))
	}
	return out, next, nil
}

// Page implements app.Views.
func (rd *Reader) Page(ctx context.Context, q app.QueueQuery) ([]*routingv1.WorkItem, string, error) {
	sql, args, err := pageSQL(q)
	if err != nil {
		return nil, "", err
	}
	rs, err := rd.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("queue page: %w", err)
	}
	return scanPage(rs, q)
}

const statsSQL = `SELECT
	(SELECT COALESCE(sum(open), 0)::int FROM ` + Schema + `.queue_counts WHERE queue = $1 AND ($2 = '' OR shop_id = $2)),
	(SELECT COALESCE(sum(unassigned), 0)::int FROM ` + Schema + `.queue_counts WHERE queue = $1 AND ($2 = '' OR shop_id = $2)),
	(SELECT min(filed_at) FROM ` + Schema + `.items WHERE status = 1 AND queue = $1 AND ($2 = '' OR shop_id = $2)),
	(SELECT count(*)::int FROM ` + Schema + `.items WHERE status = 1 AND queue = $1 AND warn_at <= $3 AND ($2 = '' OR shop_id = $2)),
	(SELECT count(*)::int FROM ` + Schema + `.agents WHERE skills @> ARRAY[$1] AND presence = 1)`

func scanStats(r pgx.Row, queue string) (*routingv1.QueueStats, error) {
	st := &routingv1.QueueStats{Queue: queue}
	var oldest *time.Time
	if err := r.Scan(&st.Depth, &st.Unassigned, &oldest, &st.AtRisk, &st.AgentsOnline); err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	if oldest != nil {
		st.OldestFiledAt = timestamppb.New(*oldest)
	}
	return st, nil
}

// QueuePage implements app.Views: the page and the queue's stats in one
// round trip.
func (rd *Reader) QueuePage(ctx context.Context, q app.QueueQuery) ([]*routingv1.WorkItem, string, *routingv1.QueueStats, error) {
	sql, args, err := pageSQL(q)
	if err != nil {
		return nil, "", nil, err
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue(statsSQL, q.Queue, q.ShopID, q.Now)
	res := rd.pool.SendBatch(ctx, b)
	defer res.Close()
	rs, err := res.Query()
	if err != nil {
		return nil, "", nil, fmt.Errorf("queue page: %w", err)
	}
	items, next, err := scanPage(rs, q)
	if err != nil {
		return nil, "", nil, err
	}
	st, err := scanStats(res.QueryRow(), q.Queue)
	if err != nil {
		return nil, "", nil, err
	}
	return items, next, st, res.Close()
}

// Stats implements app.Views: depth and waiting from the projection's
// counters, the oldest and the at-risk count from their indexes.
func (rd *Reader) Stats(ctx context.Context, queue, shopID string, now time.Time) (*routingv1.QueueStats, error) {
	return scanStats(rd.pool.QueryRow(ctx, statsSQL, queue, shopID, now), queue)
}

// Get implements app.Views.
func (rd *Reader) Get(ctx context.Context, complaintID string, now time.Time) (*routingv1.WorkItem, error) {
	if eventstore.ValidateComplaintID(complaintID) != nil {
		return nil, domain.ErrNotFound
	}
	rows, err := queryRows(ctx, rd.pool, false, "WHERE complaint_id = $1", complaintID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, domain.ErrNotFound
	}
	return rows[0].item(now), nil
}

// Held implements app.Views.
func (rd *Reader) Held(ctx context.Context, agentID string) ([]string, error) {
	rs, err := rd.pool.Query(ctx, `SELECT complaint_id::text FROM `+Schema+`.items WHERE status = 1 AND owner = $1 ORDER BY complaint_id`, agentID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rs, pgx.RowTo[string])
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func (r *row) item(now time.Time) *routingv1.WorkItem {
	it := &routingv1.WorkItem{
		ComplaintId: r.ComplaintID, ShopId: r.ShopID, Channel: complaintv1.Channel(r.Channel), Category: r.Category,
		Severity: complaintv1.Severity(r.Severity), Vip: r.VIP, AmountFen: r.AmountFen, Queue: r.Queue,
		TierRequired: int32(r.TierRequired), Priority: r.Priority, Rule: r.Rule, RouteReason: r.RouteReason,
		Status: routingv1.WorkStatus(r.Status), Owner: r.Owner, PreviousOwner: r.PreviousOwner,
		TransferCount: r.TransferCount, Contacts: r.Contacts, FiledAt: timestamppb.New(r.FiledAt),
		AssignedAt: ts(r.AssignedAt), FirstResponseAt: ts(r.FirstResponseAt), Started: r.Started,
		PendingRemedies: r.PendingRemedies, LastStreamSequence: uint64(r.LastSeq), UpdatedAt: timestamppb.New(r.UpdatedAt),
	}
	if r.DueAt.Before(noDeadline) {
		it.DueAt, it.WarnAt = timestamppb.New(r.DueAt), timestamppb.New(r.WarnAt)
		it.AtRisk = !now.Before(r.WarnAt)
	}
	return it
}
