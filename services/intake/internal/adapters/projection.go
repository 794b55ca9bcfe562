package adapters

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/migrate"
)

// Schema is the Postgres schema intake owns (DESIGN.md §4).
const Schema = "intake"

// ProjectionName is the durable consumer and checkpoint name of the projection.
const ProjectionName = "intake-complaints"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies intake's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	return migrate.Apply(ctx, pool, Schema, files)
}

// row is one complaint of the projection, in the table's column order.
type row struct {
	ComplaintID      string
	ShopID           string
	Channel          int16
	Status           int16
	CustomerRef      string
	Personal         []byte
	PersonalErased   bool
	OrderID          string
	Items            []byte
	OrderAmountFen   int64
	ClaimedAmountFen int64
	ExternalSource   string
	ExternalID       string
	ExternalURL      string
	Complainant      []byte
	Language         string
	Category         string
	Severity         int16
	Contacts         int32
	OccurredAt       time.Time
	FiledAt          time.Time
	UpdatedAt        time.Time
	EventCount       int64
	LastSeq          int64
	RiskSignals      []string
	EvidenceCount    int32
	ExternalRefs     []byte
	CustomerType     int16
}

var columns = []string{
	"complaint_id", "shop_id", "channel", "status", "customer_ref", "personal", "personal_erased",
	"order_id", "items", "order_amount_fen", "claimed_amount_fen", "external_source", "external_id",
	"external_url", "complainant", "language", "category", "severity", "contacts", "occurred_at",
	"filed_at", "updated_at", "event_count", "last_seq", "risk_signals", "evidence_count", "external_refs",
	"customer_type",
}

func (r *row) values() []any {
	return []any{
		r.ComplaintID, r.ShopID, r.Channel, r.Status, r.CustomerRef, r.Personal, r.PersonalErased,
		r.OrderID, string(r.Items), r.OrderAmountFen, r.ClaimedAmountFen, r.ExternalSource, r.ExternalID,
		r.ExternalURL, string(r.Complainant), r.Language, r.Category, r.Severity, r.Contacts, r.OccurredAt,
		r.FiledAt, r.UpdatedAt, r.EventCount, r.LastSeq, r.RiskSignals, r.EvidenceCount, string(r.ExternalRefs),
		r.CustomerType,
	}
}

func (r *row) scanTargets() []any {
	return []any{
		&r.ComplaintID, &r.ShopID, &r.Channel, &r.Status, &r.CustomerRef, &r.Personal, &r.PersonalErased,
		&r.OrderID, &r.Items, &r.OrderAmountFen, &r.ClaimedAmountFen, &r.ExternalSource, &r.ExternalID,
		&r.ExternalURL, &r.Complainant, &r.Language, &r.Category, &r.Severity, &r.Contacts, &r.OccurredAt,
		&r.FiledAt, &r.UpdatedAt, &r.EventCount, &r.LastSeq, &r.RiskSignals, &r.EvidenceCount, &r.ExternalRefs,
		&r.CustomerType,
	}
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true}

// fold applies one stored event to a complaint's row. It is the projection's
// only logic, shared by the live path and the rebuild so the two cannot drift.
// A nil row means no ComplaintFiled seen yet; events before it are ignored.
func fold(r *row, rec eventstore.Record, ev *complaintv1.Event) (*row, error) {
	if r != nil && int64(rec.StreamSeq) <= r.LastSeq {
		return r, nil // already applied
	}
	if f := ev.GetComplaintFiled(); f != nil {
		if r != nil {
			return r, nil // a second ComplaintFiled cannot be appended; ignore if it ever is
		}
		items, err := marshalItems(f.GetItems())
		if err != nil {
			return nil, err
		}
		complainant, err := jsonOpts.Marshal(orEmpty(f.GetComplainant()))
		if err != nil {
			return nil, err
		}
		personal, err := marshalSealed(f.GetPersonal())
		if err != nil {
			return nil, err
		}
		r = &row{
			ComplaintID: ev.GetComplaintId(), ShopID: ev.GetShopId(), Channel: int16(f.GetChannel()),
			Status: int16(intakev1.ComplaintStatus_COMPLAINT_STATUS_OPEN), CustomerRef: f.GetCustomerRef(),
			Personal: personal, OrderID: f.GetOrderId(), Items: items,
			OrderAmountFen: f.GetOrderAmountFen(), ClaimedAmountFen: f.GetClaimedAmountFen(),
			ExternalSource: f.GetExternalRef().GetSource(), ExternalID: f.GetExternalRef().GetExternalId(),
			ExternalURL: f.GetExternalRef().GetUrl(), Complainant: complainant, Language: f.GetLanguage(),
			Contacts: 1, OccurredAt: ev.GetOccurredAt().AsTime(), FiledAt: ev.GetRecordedAt().AsTime(),
			RiskSignals: []string{}, ExternalRefs: []byte("[]"), CustomerType: int16(f.GetCustomerType()),
		}
		if err := r.link(f.GetExternalRef()); err != nil {
			return nil, err
		}
	}
	if r == nil {
		return nil, nil
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ContactAdded:
		r.Contacts++
		if err := r.link(p.ContactAdded.GetExternalRef()); err != nil {
			return nil, err
		}
	case *complaintv1.Event_ExternalRefLinked:
		if err := r.link(p.ExternalRefLinked.GetRef()); err != nil {
			return nil, err
		}
	case *complaintv1.Event_EvidenceAttached:
		r.EvidenceCount++
	case *complaintv1.Event_ComplaintClassified:
		c := p.ComplaintClassified
		r.Category = c.GetCategory()
		r.Severity = int16(c.GetSeverity())
		r.CustomerType = int16(c.GetCustomerType())
		r.RiskSignals = make([]string, 0, len(c.GetRiskSignals()))
		for _, s := range c.GetRiskSignals() {
			r.RiskSignals = append(r.RiskSignals, s.GetCode())
		}
	case *complaintv1.Event_ComplaintResolved:
		r.Status = int16(intakev1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED)
	case *complaintv1.Event_ComplaintReopened:
		r.Status = int16(intakev1.ComplaintStatus_COMPLAINT_STATUS_OPEN)
	case *complaintv1.Event_ComplaintClosed:
		r.Status = int16(intakev1.ComplaintStatus_COMPLAINT_STATUS_CLOSED)
	case *complaintv1.Event_PersonalDataErased:
		r.Personal = nil
		r.PersonalErased = true
	}
	r.EventCount++
	r.LastSeq = int64(rec.StreamSeq)
	r.UpdatedAt = ev.GetRecordedAt().AsTime()
	return r, nil
}

// link adds an external ref to the row's list once.
func (r *row) link(ref *complaintv1.ExternalRef) error {
	if ref.GetExternalId() == "" {
		return nil
	}
	refs, err := unmarshalRefs(r.ExternalRefs)
	if err != nil {
		return err
	}
	for _, x := range refs {
		if x.GetSource() == ref.GetSource() && x.GetExternalId() == ref.GetExternalId() {
			return nil
		}
	}
	b, err := marshalList(append(refs, ref))
	if err != nil {
		return err
	}
	r.ExternalRefs = b
	return nil
}

func unmarshalRefs(b []byte) ([]*complaintv1.ExternalRef, error) {
	holder := &intakev1.Complaint{}
	if err := protojson.Unmarshal(append(append([]byte(`{"external_refs":`), b...), '}'), holder); err != nil {
		return nil, err
	}
	return holder.GetExternalRefs(), nil
}

func orEmpty(c *complaintv1.Complainant) *complaintv1.Complainant {
	if c == nil {
		return &complaintv1.Complainant{}
	}
	return c
}

func marshalItems(items []*complaintv1.Item) ([]byte, error) { return marshalList(items) }

// marshalList writes a JSON array of messages (protojson has no top-level arrays).
func marshalList[M proto.Message](items []M) ([]byte, error) {
	out := []byte{'['}
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		b, err := jsonOpts.Marshal(it)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return append(out, ']'), nil
}

func marshalSealed(s *complaintv1.Sealed) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return proto.Marshal(s)
}

// Projection keeps intake.complaints. It implements the kit projection runner's
// handler and rebuilder.
type Projection struct {
	staged map[string]*row // rebuild only: rows folded so far
	order  []string
}

// NewProjection returns the projection handler.
func NewProjection() *Projection { return &Projection{} }

// Apply folds a batch into the rows it touches: it reads those rows once, folds
// every event in memory, and writes each touched row once, all in the runner's
// transaction. A batch of N events costs two round trips, not N.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	ids := make([]string, 0, len(recs))
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.ComplaintID] {
			seen[r.ComplaintID] = true
			ids = append(ids, r.ComplaintID)
		}
	}
	rows, err := loadRows(ctx, tx, ids)
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		r, err := fold(rows[rec.ComplaintID], rec, ev)
		if err != nil {
			return fmt.Errorf("fold %s at seq %d: %w", rec.Type, rec.StreamSeq, err)
		}
		if r != nil {
			rows[rec.ComplaintID] = r
			touched[rec.ComplaintID] = true
		}
	}
	batch := &pgx.Batch{}
	for _, id := range ids {
		if touched[id] {
			batch.Queue(upsertSQL, rows[id].values()...)
		}
	}
	if reqs := requestsOf(recs); len(reqs.keys) > 0 {
		batch.Queue(insertRequestsSQL, reqs.keys, reqs.complaints, reqs.fingerprints)
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}

// requestRows are the request ids a batch of events files.
type requestRows struct{ keys, complaints, fingerprints []string }

// requestsOf collects the Kesu-Request headers FileComplaint sets on the
// first event of a filing or a folded contact.
func requestsOf(recs []eventstore.Record) requestRows {
	var out requestRows
	for _, r := range recs {
		if k := r.Header.Get(app.HeaderRequest); k != "" {
			out.keys = append(out.keys, k)
			out.complaints = append(out.complaints, r.ComplaintID)
			out.fingerprints = append(out.fingerprints, r.Header.Get(app.HeaderFingerprint))
		}
	}
	return out
}

// The first filing of a request id keeps it.
const insertRequestsSQL = `INSERT INTO ` + Schema + `.requests (request_key, complaint_id, fingerprint)
	SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[]) ON CONFLICT (request_key) DO NOTHING`

var upsertSQL = func() string {
	s := "INSERT INTO " + Schema + ".complaints (" + strings.Join(columns, ", ") + ") VALUES ("
	for i := range columns {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("$%d", i+1)
	}
	s += ") ON CONFLICT (complaint_id) DO UPDATE SET "
	for i, c := range columns[1:] {
		if i > 0 {
			s += ", "
		}
		s += c + " = EXCLUDED." + c
	}
	return s
}()

func loadRows(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []string) (map[string]*row, error) {
	out := make(map[string]*row, len(ids))
	rs, err := q.Query(ctx, "SELECT "+strings.Join(columns, ", ")+" FROM "+Schema+".complaints WHERE complaint_id = ANY($1::uuid[])", ids)
	if err != nil {
		return nil, fmt.Errorf("load complaints: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		r := &row{}
		if err := rs.Scan(r.scanTargets()...); err != nil {
			return nil, fmt.Errorf("scan complaint: %w", err)
		}
		out[r.ComplaintID] = r
	}
	return out, rs.Err()
}

// Reset empties the projection before a rebuild.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	p.staged, p.order = map[string]*row{}, nil
	_, err := tx.Exec(ctx, "TRUNCATE "+Schema+".complaints, "+Schema+".requests")
	return err
}

// Stage folds a chunk of the replay in memory.
func (p *Projection) Stage(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	if p.staged == nil {
		p.staged = map[string]*row{}
	}
	if reqs := requestsOf(recs); len(reqs.keys) > 0 {
		if _, err := tx.Exec(ctx, insertRequestsSQL, reqs.keys, reqs.complaints, reqs.fingerprints); err != nil {
			return fmt.Errorf("stage request ids: %w", err)
		}
	}
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		prev := p.staged[rec.ComplaintID]
		r, err := fold(prev, rec, ev)
		if err != nil {
			return fmt.Errorf("fold %s at seq %d: %w", rec.Type, rec.StreamSeq, err)
		}
		if r != nil && prev == nil {
			p.order = append(p.order, rec.ComplaintID)
		}
		if r != nil {
			p.staged[rec.ComplaintID] = r
		}
	}
	return nil
}

// Merge writes the folded rows: COPY into a staging table, then one set-based insert.
func (p *Projection) Merge(ctx context.Context, tx pgx.Tx) error {
	defer func() { p.staged, p.order = nil, nil }()
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE complaints_staging (LIKE "+Schema+".complaints) ON COMMIT DROP"); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	src := make([][]any, 0, len(p.order))
	for _, id := range p.order {
		src = append(src, p.staged[id].values())
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"complaints_staging"}, columns, pgx.CopyFromRows(src)); err != nil {
		return fmt.Errorf("copy staging: %w", err)
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+Schema+".complaints SELECT * FROM complaints_staging ON CONFLICT (complaint_id) DO NOTHING")
	return err
}

// Reader serves GetComplaint from the projection.
type Reader struct {
	pool *pgxpool.Pool
}

// NewReader returns the reader.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Get implements app.Complaints.
func (rd *Reader) Get(ctx context.Context, complaintID string) (*intakev1.Complaint, *complaintv1.Sealed, error) {
	rows, err := loadRows(ctx, rd.pool, []string{complaintID})
	if err != nil {
		return nil, nil, err
	}
	r := rows[complaintID]
	if r == nil {
		return nil, nil, domain.ErrNotFound
	}
	return r.view()
}

func (r *row) view() (*intakev1.Complaint, *complaintv1.Sealed, error) {
	c := &intakev1.Complaint{
		ComplaintId: r.ComplaintID, ShopId: r.ShopID, Channel: complaintv1.Channel(r.Channel),
		Status: intakev1.ComplaintStatus(r.Status), CustomerRef: r.CustomerRef,
		PersonalDataErased: r.PersonalErased, OrderId: r.OrderID,
		OrderAmountFen: r.OrderAmountFen, ClaimedAmountFen: r.ClaimedAmountFen,
		OccurredAt: domain.Timestamp(r.OccurredAt), FiledAt: domain.Timestamp(r.FiledAt),
		EventCount: r.EventCount, LastStreamSequence: uint64(r.LastSeq), Category: r.Category,
		Severity: complaintv1.Severity(r.Severity), Contacts: r.Contacts, Language: r.Language,
		RiskSignals: r.RiskSignals, EvidenceCount: r.EvidenceCount, UpdatedAt: domain.Timestamp(r.UpdatedAt),
		CustomerType: complaintv1.CustomerType(r.CustomerType),
	}
	refs, err := unmarshalRefs(r.ExternalRefs)
	if err != nil {
		return nil, nil, fmt.Errorf("complaint %s external refs: %w", r.ComplaintID, err)
	}
	c.ExternalRefs = refs
	if r.ExternalID != "" {
		c.ExternalRef = &complaintv1.ExternalRef{Source: r.ExternalSource, ExternalId: r.ExternalID, Url: r.ExternalURL}
	}
	cp := &complaintv1.Complainant{}
	if err := protojson.Unmarshal(r.Complainant, cp); err != nil {
		return nil, nil, fmt.Errorf("complaint %s complainant: %w", r.ComplaintID, err)
	}
	if proto.Size(cp) > 0 {
		c.Complainant = cp
	}
	items, err := unmarshalItems(r.Items)
	if err != nil {
		return nil, nil, fmt.Errorf("complaint %s items: %w", r.ComplaintID, err)
	}
	c.Items = items
	var sealed *complaintv1.Sealed
	if len(r.Personal) > 0 {
		sealed = &complaintv1.Sealed{}
		if err := proto.Unmarshal(r.Personal, sealed); err != nil {
			return nil, nil, fmt.Errorf("complaint %s personal: %w", r.ComplaintID, err)
		}
	}
	return c, sealed, nil
}

func unmarshalItems(b []byte) ([]*complaintv1.Item, error) {
	// protojson has no top-level arrays: wrap them in a message with a repeated field.
	holder := &intakev1.FileComplaintRequest{}
	if err := protojson.Unmarshal(append(append([]byte(`{"items":`), b...), '}'), holder); err != nil {
		return nil, err
	}
	return holder.GetItems(), nil
}
