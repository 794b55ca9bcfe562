package adapters

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

type groupKey struct {
	shop   string
	season int
	dim    string
	key    string
}

type groupSums struct {
	label string
	c     domain.Counters
}

type valueKey struct {
	shop    string
	season  int
	phase   string
	measure string
	value   int64
}

// sums accumulates facts' contributions to groups and value counts: the
// rebuild adds every fact once; a live batch subtracts each touched fact as
// it was and adds it as it is.
type sums struct {
	groups map[groupKey]*groupSums
	values map[valueKey]int64
}

func newSums() *sums {
	return &sums{groups: map[groupKey]*groupSums{}, values: map[valueKey]int64{}}
}

// add adds sign × the fact's contribution.
func (s *sums) add(f *domain.Fact, sign int64) {
	c := f.Counters()
	for _, g := range f.Groups() {
		k := groupKey{f.ShopID, f.Season, g.Dim, g.Key}
		gs := s.groups[k]
		if gs == nil {
			gs = &groupSums{}
			s.groups[k] = gs
		}
		// A product's label is its name; the greatest seen, so that the
		// live path and a rebuild agree whatever the order.
		if g.Label > gs.label {
			gs.label = g.Label
		}
		for i := range c {
			gs.c[i] += sign * c[i]
		}
	}
	for _, v := range f.Values() {
		s.values[valueKey{f.ShopID, f.Season, f.Phase, v.Measure, v.Value}] += sign
	}
}

var groupColumns = append([]string{"shop_id", "season", "dim", "key", "label"}, domain.CounterColumns[:]...)

var valueColumns = []string{"shop_id", "season", "phase", "measure", "value", "n"}

func (s *sums) groupRows(skipZero bool) [][]any {
	keys := make([]groupKey, 0, len(s.groups))
	for k, g := range s.groups {
		if skipZero && g.c == (domain.Counters{}) {
			continue
		}
		keys = append(keys, k)
	}
	// A stable order keeps lock order the same across concurrent writers.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.shop+"\x00"+a.dim+"\x00"+a.key < b.shop+"\x00"+b.dim+"\x00"+b.key || (a.shop == b.shop && a.dim == b.dim && a.key == b.key && a.season < b.season)
	})
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		g := s.groups[k]
		row := make([]any, 0, len(groupColumns))
		row = append(row, k.shop, int32(k.season), k.dim, k.key, g.label)
		for _, v := range g.c {
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return rows
}

func (s *sums) valueRows() [][]any {
	type keyed struct {
		key string
		row []any
	}
	ks := make([]keyed, 0, len(s.values))
	for k, n := range s.values {
		if n != 0 {
			row := []any{k.shop, int32(k.season), k.phase, k.measure, k.value, n}
			// The order is the one writers have always locked in; the key is
			// built once per row, not twice per comparison.
			ks = append(ks, keyed{fmt.Sprint(row[:5]), row})
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].key < ks[j].key })
	rows := make([][]any, len(ks))
	for i := range ks {
		rows[i] = ks[i].row
	}
	return rows
}

// copyAll writes the sums of a rebuild into the emptied tables.
func (s *sums) copyAll(ctx context.Context, tx pgx.Tx) error {
	if _, err := projection.CopyRows(ctx, tx, Schema+".season_groups", groupColumns, s.groupRows(true)); err != nil {
		return err
	}
	_, err := projection.CopyRows(ctx, tx, Schema+".season_values", valueColumns, s.valueRows())
	return err
}

var upsertGroupSQL = func() string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + Schema + ".season_groups AS g (" + strings.Join(groupColumns, ", ") + ") VALUES (")
	for i := range groupColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i+1)
	}
	b.WriteString(") ON CONFLICT (shop_id, season, dim, key) DO UPDATE SET label = greatest(g.label, EXCLUDED.label)")
	for _, c := range domain.CounterColumns {
		b.WriteString(", " + c + " = g." + c + " + EXCLUDED." + c)
	}
	return b.String()
}()

const upsertValueSQL = "INSERT INTO " + Schema + ".season_values AS v (shop_id, season, phase, measure, value, n) VALUES ($1, $2, $3, $4, $5, $6) " +
	"ON CONFLICT (shop_id, season, measure, phase, value) DO UPDATE SET n = v.n + EXCLUDED.n"

// applyDeltas adds a live batch's differences, then drops the groups and
// values no complaint is in any more (a rebuild never writes them).
func (s *sums) applyDeltas(ctx context.Context, tx pgx.Tx) error {
	batch := &pgx.Batch{}
	var emptied, zeroed bool
	for _, row := range s.groupRows(true) {
		batch.Queue(upsertGroupSQL, row...)
		if row[5].(int64) < 0 {
			emptied = true
		}
	}
	for _, row := range s.valueRows() {
		batch.Queue(upsertValueSQL, row...)
		if row[5].(int64) < 0 {
			zeroed = true
		}
	}
	if emptied {
		batch.Queue("DELETE FROM " + Schema + ".season_groups WHERE complaints = 0")
	}
	if zeroed {
		batch.Queue("DELETE FROM " + Schema + ".season_values WHERE n = 0")
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}
