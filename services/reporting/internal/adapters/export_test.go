package adapters

import "github.com/kesu315/kesu/services/kit/eventstore"

// FoldOnly decodes and folds a chunk as a rebuild's Stage does, without the
// COPY, for the benchmark's breakdown.
func (p *Projection) FoldOnly(recs []eventstore.Record) (int, error) {
	rows, err := p.fold(recs)
	if err != nil {
		return 0, err
	}
	return rows.rows, nil
}
