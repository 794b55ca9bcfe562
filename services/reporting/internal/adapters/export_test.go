package adapters

import (
	"time"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// FoldOnly decodes and folds a chunk as a rebuild's Stage does, without the
// COPY, for the benchmark's breakdown.
func (p *Projection) FoldOnly(recs []eventstore.Record) (int, error) {
	rows, err := p.fold(recs)
	if err != nil {
		return 0, err
	}
	return rows.rows, nil
}

// SetTrace has the projection report how long each step of a rebuild took,
// for the benchmark's breakdown.
func (p *Projection) SetTrace(fn func(step string, took time.Duration)) { p.trace = fn }

// RebuildGCPercent is GOGC during a rebuild, for the benchmark's fold-only breakdown.
const RebuildGCPercent = rebuildGCPercent

// SetFactChunk sets how many facts Merge COPYs at a time and returns a
// function that puts it back.
func SetFactChunk(n int) (restore func()) {
	old := factChunk
	factChunk = n
	return func() { factChunk = old }
}
