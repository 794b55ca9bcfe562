package adapters_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// benchChunk is the rebuild's chunk, as the runner's default RebuildChunk.
const benchChunk = 16384

// benchComplaints is the season size: 20 000 complaints (~328 000 events)
// by default, 1 000 000 (~16.4 M events) with KESU_BENCH_FULL=1, or
// KESU_BENCH_COMPLAINTS=N, which wins over both (to see how the figures
// grow with the season).
func benchComplaints() (int, error) {
	if v := os.Getenv("KESU_BENCH_COMPLAINTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("KESU_BENCH_COMPLAINTS=%q: want a whole number of complaints, at least 1", v)
		}
		return n, nil
	}
	if os.Getenv("KESU_BENCH_FULL") == "1" {
		return 1_000_000, nil
	}
	return 20_000, nil
}

// benchSeason is a generated season, chunk by chunk in stream order, each
// event stored as the stream stores it (its encoded bytes), in memory the GC
// neither scans nor counts (offHeapSegment). It is generated before any
// timing starts, so the load can be timed as one span from Reset to Commit:
// Stage returns while its chunk's COPY still runs, and any untimed work
// between two Stage calls would hide that COPY. A million complaints take
// about 5 GB here.
type benchSeason struct {
	complaints int
	events     int
	bytes      int
	chunks     [][]byte // per chunk: per event a seasonHeader, then the event's bytes
	counts     []int
	ids        []string // complaint ids, by index
	types      []string // event types, by index
	free       []func() error
	generated  time.Duration // how long generating it took
}

// seasonHeader is stream seq (8 bytes), complaint index (4), type index (1),
// length of the event's bytes (4), little-endian.
const seasonHeader = 8 + 4 + 1 + 4

// seasonSegment is how much off-heap memory is mapped at a time.
const seasonSegment = 256 << 20

func generateSeason(tb testing.TB, complaints int) *benchSeason {
	s := &benchSeason{complaints: complaints}
	tb.Cleanup(s.release)
	start := time.Now()
	defer func() { s.generated = time.Since(start) }()
	gen := &seasonGen{rng: rand.New(rand.NewPCG(1, 2)), start: at(2027, 2, 25, 0, 0)}
	ids := map[string]uint32{}
	types := map[string]uint8{}
	var seg []byte // what is left of the current segment
	var next uint64
	err := gen.chunks(complaints, benchChunk, func(recs []eventstore.Record) error {
		gen.resequence(recs, &next)
		size := 0
		for _, r := range recs {
			size += seasonHeader + len(r.Data)
		}
		if len(seg) < size {
			m, free, err := offHeapSegment(max(size, seasonSegment))
			if err != nil {
				return err
			}
			s.free = append(s.free, free)
			seg = m
		}
		buf := seg[:0:size]
		for _, r := range recs {
			ci, ok := ids[r.ComplaintID]
			if !ok {
				ci = uint32(len(s.ids))
				ids[r.ComplaintID] = ci
				s.ids = append(s.ids, r.ComplaintID)
			}
			ti, ok := types[r.Type]
			if !ok {
				if len(s.types) == 256 {
					return fmt.Errorf("more than 256 event types")
				}
				ti = uint8(len(s.types))
				types[r.Type] = ti
				s.types = append(s.types, r.Type)
			}
			buf = binary.LittleEndian.AppendUint64(buf, r.StreamSeq)
			buf = binary.LittleEndian.AppendUint32(buf, ci)
			buf = append(buf, ti)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(r.Data)))
			buf = append(buf, r.Data...)
		}
		s.chunks = append(s.chunks, buf)
		s.counts = append(s.counts, len(recs))
		seg = seg[size:]
		s.events += len(recs)
		s.bytes += size
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// chunk is chunk i as the runner hands it to Stage: a new slice of records
// (the Rebuilder may keep it), each with the fields Stage reads (type,
// bytes, complaint, stream seq). The bytes stay in the season's memory.
func (s *benchSeason) chunk(i int) []eventstore.Record {
	recs := make([]eventstore.Record, 0, s.counts[i])
	buf := s.chunks[i]
	for len(buf) > 0 {
		seq := binary.LittleEndian.Uint64(buf)
		ci := binary.LittleEndian.Uint32(buf[8:])
		ti := buf[12]
		end := seasonHeader + int(binary.LittleEndian.Uint32(buf[13:]))
		recs = append(recs, eventstore.Record{
			Event:       eventstore.Event{Type: s.types[ti], Schema: events.SchemaVersion, Data: buf[seasonHeader:end:end]},
			ComplaintID: s.ids[ci],
			StreamSeq:   seq,
		})
		buf = buf[end:]
	}
	return recs
}

func (s *benchSeason) release() {
	for _, free := range s.free {
		_ = free()
	}
	s.free, s.chunks = nil, nil
}

// loadStats is what one load of a season through the rebuild path took.
type loadStats struct {
	events  int
	took    time.Duration            // Reset … Commit, one span
	merge   time.Duration            // Merge + Commit
	records time.Duration            // building the chunks' records, the runner's part
	steps   map[string]time.Duration // the projection's trace: fold, wait, events and facts (COPYs), Merge's steps
	phases  map[string]cpu           // CPU by phase: events, escalations, merge_facts, groups, commit
	use     usage
	peakRSS float64 // the process's peak resident memory so far, the season's included
}

// cpu is CPU seconds of this process and of one PostgreSQL backend.
type cpu struct{ goCPU, pgCPU float64 }

func (c cpu) minus(d cpu) cpu { return cpu{c.goCPU - d.goCPU, c.pgCPU - d.pgCPU} }

// cpuNow reads this process's CPU and the span's backend's.
func (u *usageStart) cpuNow() cpu {
	c := cpu{goCPU: processCPU()}
	if u.procs.backend != 0 {
		if _, v, err := procStat(u.procs.backend); err == nil {
			c.pgCPU = v
		}
	}
	return c
}

// loadSeason loads the season through the projection's own rebuild path
// (Reset, Stage per chunk, Merge, Commit) in one transaction, timed as one
// span: building each chunk's records is inside it (about 20 ns an event),
// generating the season is not.
func loadSeason(tb testing.TB, pool *pgxpool.Pool, pol *policy.Policy, s *benchSeason) loadStats {
	ctx := context.Background()
	st := loadStats{events: s.events, steps: map[string]time.Duration{}, phases: map[string]cpu{}}
	tx, err := pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	u := startUsage(tb, tx.Conn())
	// CPU by phase: the events (Stage, up to the end of the last chunk's
	// COPY), then each of Merge's steps (escalations, merge_facts: facts
	// encoded, summed into groups and COPYed, groups); one /proc read and
	// one getrusage at each boundary, a few per chunk.
	last := u.cpuNow()
	var copied cpu
	proj := adapters.NewProjection(domain.PolicyPlacer{Policy: pol})
	proj.SetTrace(func(step string, took time.Duration) {
		st.steps[step] += took
		switch step {
		case "fold", "wait", "facts":
		case "events":
			copied = u.cpuNow()
		case "escalations":
			st.phases["events"] = copied.minus(last)
			last = copied
			fallthrough
		default:
			now := u.cpuNow()
			st.phases[step] = now.minus(last)
			last = now
		}
	})
	t0 := time.Now()
	if err := proj.Reset(ctx, tx); err != nil {
		tb.Fatal(err)
	}
	for i := range s.chunks {
		t := time.Now()
		recs := s.chunk(i)
		st.records += time.Since(t)
		if err := proj.Stage(ctx, tx, recs); err != nil {
			tb.Fatal(err)
		}
	}
	t1 := time.Now()
	if err := proj.Merge(ctx, tx); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	st.took, st.merge = time.Since(t0), time.Since(t1)
	st.phases["commit"] = u.cpuNow().minus(last)
	st.use = u.stop()
	st.peakRSS = peakRSS()
	return st
}

// usage is the CPU a timed span used: this process's (Go's, the GC's part
// of it separately) and PostgreSQL's, the backend serving the span's
// connection apart from the rest of its cluster (checkpointer, WAL writer,
// other backends). CPU seconds hold up better than wall time on a machine
// other work shares; PostgreSQL's are read from /proc, so Linux only.
type usage struct {
	goCPU, gcCPU, pgCPU, pgOtherCPU float64
	gcCycles, allocBytes            uint64
}

type usageStart struct {
	procs   pgProcs
	at      usage
	samples []metrics.Sample
}

func startUsage(tb testing.TB, conn *pgx.Conn) *usageStart {
	// A clean heap, no dirty buffers and no dirty pages from what ran
	// before: the span pays only for its own garbage and its own writes.
	if _, err := conn.Exec(context.Background(), "CHECKPOINT"); err != nil {
		tb.Logf("CHECKPOINT before the timed span: %v", err)
	}
	syncDisks()
	runtime.GC()
	u := &usageStart{procs: pgProcsOf(tb, conn), samples: []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}}}
	u.at = u.now()
	return u
}

func (u *usageStart) now() usage {
	metrics.Read(u.samples)
	var n usage
	n.goCPU = processCPU()
	n.gcCPU = u.samples[0].Value.Float64()
	n.gcCycles = u.samples[1].Value.Uint64()
	n.allocBytes = u.samples[2].Value.Uint64()
	n.pgCPU, n.pgOtherCPU = u.procs.cpu()
	return n
}

func (u *usageStart) stop() usage {
	n := u.now()
	return usage{
		goCPU: n.goCPU - u.at.goCPU, gcCPU: n.gcCPU - u.at.gcCPU, gcCycles: n.gcCycles - u.at.gcCycles, allocBytes: n.allocBytes - u.at.allocBytes,
		pgCPU: n.pgCPU - u.at.pgCPU, pgOtherCPU: n.pgOtherCPU - u.at.pgOtherCPU,
	}
}

// pgProcs is the backend of a connection and its postmaster, by pid; zero
// when /proc cannot tell.
type pgProcs struct{ backend, postmaster int }

func pgProcsOf(tb testing.TB, conn *pgx.Conn) pgProcs {
	var pid int
	if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		tb.Fatal(err)
	}
	ppid, _, err := procStat(pid)
	if err != nil {
		return pgProcs{}
	}
	return pgProcs{backend: pid, postmaster: ppid}
}

// cpu is the CPU seconds of the backend and of the postmaster's other
// children so far. Children that ended are not counted.
func (p pgProcs) cpu() (backend, others float64) {
	if p.postmaster == 0 {
		return 0, 0
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		ppid, cpu, err := procStat(pid)
		if err != nil || (ppid != p.postmaster && pid != p.backend) {
			continue
		}
		if pid == p.backend {
			backend = cpu
		} else {
			others += cpu
		}
	}
	return backend, others
}

// procStat reads a process's parent and CPU seconds (user + system) from
// /proc/PID/stat; clock ticks are 1/100 s on Linux.
func procStat(pid int) (ppid int, cpu float64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err = strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, 0, err
	}
	utime, err1 := strconv.ParseFloat(string(f[11]), 64)
	stime, err2 := strconv.ParseFloat(string(f[12]), 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: cpu times", pid)
	}
	return ppid, (utime + stime) / 100, nil
}

// copyStats is what the baseline took: the COPY calls only, all tables and
// per table.
type copyStats struct {
	took       time.Duration
	rows       int64
	byTable    map[string]time.Duration
	cpuByTable map[string]cpu
	use        usage
}

// copyBaseline COPYs exactly the rows the rebuild wrote, every table it
// writes, into plain logged twins with the same columns and indexes, 16 384
// rows per COPY as pgx's CopyFrom takes them from an application. The rows
// are read back first, a batch at a time and untimed; only the COPY calls
// are timed (their Go side, pgx encoding the values, included).
func copyBaseline(tb testing.TB, pool *pgxpool.Pool) copyStats {
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	st := copyStats{byTable: map[string]time.Duration{}, cpuByTable: map[string]cpu{}}
	tables := baselineTables
	for _, tab := range tables {
		// A plain, logged table like the projection's own, same indexes (a
		// temp table would skip the WAL and flatter the baseline).
		if _, err := tx.Exec(ctx, "CREATE TABLE public.copy_"+tab+" (LIKE reporting."+tab+" INCLUDING ALL)"); err != nil {
			tb.Fatal(err)
		}
	}
	u := startUsage(tb, tx.Conn())
	var spanCPU, spanGC float64
	var spanPG, spanPGOther float64
	var spanCycles uint64
	for _, tab := range tables {
		// Read the rows on another connection, untimed, and COPY them 16 384
		// at a time: only the COPY is timed.
		rs, err := pool.Query(ctx, "SELECT * FROM reporting."+tab)
		if err != nil {
			tb.Fatal(err)
		}
		var cols []string
		for _, fd := range rs.FieldDescriptions() {
			cols = append(cols, fd.Name)
		}
		flush := func(rows [][]any) {
			before := u.now()
			t := time.Now()
			n, err := tx.CopyFrom(ctx, pgx.Identifier{"public", "copy_" + tab}, cols, pgx.CopyFromRows(rows))
			took := time.Since(t)
			after := u.now()
			if err != nil {
				tb.Fatal(err)
			}
			st.took += took
			st.byTable[tab] += took
			c := st.cpuByTable[tab]
			c.goCPU += after.goCPU - before.goCPU
			c.pgCPU += after.pgCPU - before.pgCPU
			st.cpuByTable[tab] = c
			st.rows += n
			spanCPU += after.goCPU - before.goCPU
			spanGC += after.gcCPU - before.gcCPU
			spanCycles += after.gcCycles - before.gcCycles
			spanPG += after.pgCPU - before.pgCPU
			spanPGOther += after.pgOtherCPU - before.pgOtherCPU
		}
		rows := make([][]any, 0, benchChunk)
		for rs.Next() {
			v, err := rs.Values()
			if err != nil {
				tb.Fatal(err)
			}
			rows = append(rows, v)
			if len(rows) == cap(rows) {
				flush(rows)
				rows = make([][]any, 0, benchChunk)
			}
		}
		if err := rs.Err(); err != nil {
			tb.Fatal(err)
		}
		rs.Close()
		if len(rows) > 0 {
			flush(rows)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	st.use = usage{goCPU: spanCPU, gcCPU: spanGC, gcCycles: spanCycles, pgCPU: spanPG, pgOtherCPU: spanPGOther}
	return st
}

// baselineTables are the tables a rebuild writes, in the order the
// baselines copy them.
var baselineTables = []string{"events", "escalations", "complaint_facts", "season_groups", "season_values"}

// rawCopyBaseline COPYs exactly the rows the rebuild wrote once more, as
// PostgreSQL's own binary COPY stream: each table is dumped (untimed) with
// COPY … TO a file, then sent back into empty twins 16 384 rows per COPY …
// FROM STDIN, every chunk of every table back to back in one timed span.
// Nothing is encoded on the client and nothing happens between two COPY
// calls, so this is what PostgreSQL alone needs for the rows: the stricter
// of the two baselines. (copyBaseline's untimed reads between COPY calls
// leave PostgreSQL's WAL writer and checkpointer time to catch up, which
// the rebuild, like this baseline, does not get.)
func rawCopyBaseline(tb testing.TB, pool *pgxpool.Pool) copyStats {
	ctx := context.Background()
	dir := tb.TempDir()
	type dump struct {
		tab    string
		data   []byte
		header []byte   // the stream's header, sent before every chunk
		chunks [][2]int // tuples [start, end) of each chunk
		rows   int64
	}
	var dumps []dump
	conn, err := pool.Acquire(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, tab := range baselineTables {
		f, err := os.Create(filepath.Join(dir, tab+".copy"))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := conn.Conn().PgConn().CopyTo(ctx, w, "COPY reporting."+tab+" TO STDOUT (FORMAT binary)"); err != nil {
			tb.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		data, unmap, err := mapFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = unmap(); _ = f.Close() })
		d := dump{tab: tab, data: data}
		if d.header, d.chunks, d.rows, err = copyChunks(data, benchChunk); err != nil {
			tb.Fatalf("dump of %s: %v", tab, err)
		}
		dumps = append(dumps, d)
	}
	conn.Release()

	tx, err := pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, tab := range baselineTables {
		if _, err := tx.Exec(ctx, "CREATE TABLE public.raw_"+tab+" (LIKE reporting."+tab+" INCLUDING ALL)"); err != nil {
			tb.Fatal(err)
		}
	}
	st := copyStats{byTable: map[string]time.Duration{}, cpuByTable: map[string]cpu{}}
	trailer := []byte{0xff, 0xff}
	u := startUsage(tb, tx.Conn())
	t0 := time.Now()
	for _, d := range dumps {
		t := time.Now()
		for _, c := range d.chunks {
			r := io.MultiReader(bytes.NewReader(d.header), bytes.NewReader(d.data[c[0]:c[1]]), bytes.NewReader(trailer))
			tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, "COPY public.raw_"+d.tab+" FROM STDIN (FORMAT binary)")
			if err != nil {
				tb.Fatalf("raw copy of %s: %v", d.tab, err)
			}
			st.rows += tag.RowsAffected()
		}
		st.byTable[d.tab] = time.Since(t)
	}
	st.took = time.Since(t0)
	st.use = u.stop()
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	var want int64
	for _, d := range dumps {
		want += d.rows
	}
	if st.rows != want {
		tb.Fatalf("raw copy wrote %d rows of %d", st.rows, want)
	}
	return st
}

// copyChunks splits a binary COPY stream into its header and chunks of n
// tuples (each [start, end) in data), and counts the tuples.
func copyChunks(data []byte, n int) (header []byte, chunks [][2]int, rows int64, err error) {
	const sig = "PGCOPY\n\xff\r\n\x00"
	if len(data) < len(sig)+8 || string(data[:len(sig)]) != sig {
		return nil, nil, 0, fmt.Errorf("not a binary COPY stream")
	}
	at := len(sig) + 8 + int(binary.BigEndian.Uint32(data[len(sig)+4:]))
	header = data[:at]
	start, inChunk := at, 0
	for {
		if at+2 > len(data) {
			return nil, nil, 0, fmt.Errorf("no trailer")
		}
		fields := int16(binary.BigEndian.Uint16(data[at:]))
		if fields == -1 {
			break
		}
		at += 2
		for range fields {
			if at+4 > len(data) {
				return nil, nil, 0, fmt.Errorf("tuple %d cut short", rows)
			}
			l := int32(binary.BigEndian.Uint32(data[at:]))
			at += 4
			if l > 0 {
				at += int(l)
			}
		}
		if at > len(data) {
			return nil, nil, 0, fmt.Errorf("tuple %d cut short", rows)
		}
		rows++
		if inChunk++; inChunk == n {
			chunks = append(chunks, [2]int{start, at})
			start, inChunk = at, 0
		}
	}
	if inChunk > 0 {
		chunks = append(chunks, [2]int{start, at})
	}
	return header, chunks, rows, nil
}

// metric is one figure for b.ReportMetric.
type metric struct {
	v    float64
	unit string
}

// loadMetrics are the figures of a load beside its baseline: rates, the
// ratio the target is set on, where the load's time went and the CPU each
// side used.
func loadMetrics(s *benchSeason, ld loadStats, cp, raw copyStats) []metric {
	ms := []metric{
		{float64(s.complaints), "complaints"},
		{float64(ld.events), "events"},
		{float64(cp.rows), "rows"},
		{float64(ld.events) / ld.took.Seconds(), "rebuild_events/s"},
		{float64(cp.rows) / ld.took.Seconds(), "rebuild_rows/s"},
		{float64(cp.rows) / cp.took.Seconds(), "copy_rows/s"},
		{cp.took.Seconds() / ld.took.Seconds(), "rebuild/copy"},
		{ld.took.Seconds(), "rebuild_s"},
		{ld.merge.Seconds(), "merge_s"},
		{ld.records.Seconds(), "records_s"},
		{cp.took.Seconds(), "copy_s"},
		{cp.byTable["events"].Seconds(), "copy_events_s"},
		{cp.byTable["complaint_facts"].Seconds(), "copy_facts_s"},
		{(cp.byTable["season_groups"] + cp.byTable["season_values"]).Seconds(), "copy_groups_s"},
		{ld.use.goCPU, "rebuild_go_cpu_s"},
		{ld.use.gcCPU, "rebuild_gc_cpu_s"},
		{float64(ld.use.gcCycles), "rebuild_gc_cycles"},
		{float64(ld.use.allocBytes) / float64(ld.events), "rebuild_alloc_B/event"},
		{ld.use.pgCPU, "rebuild_pg_cpu_s"},
		{ld.use.pgOtherCPU, "rebuild_pgbg_cpu_s"},
		{cp.use.goCPU, "copy_go_cpu_s"},
		{cp.use.pgCPU, "copy_pg_cpu_s"},
		{cp.use.pgOtherCPU, "copy_pgbg_cpu_s"},
		{float64(s.bytes) / (1 << 20), "season_MB"},
		{ld.peakRSS / (1 << 20), "load_peak_rss_MB"},
		{peakRSS() / (1 << 20), "peak_rss_MB"},
		{s.generated.Seconds(), "generate_s"},
		{float64(raw.rows) / raw.took.Seconds(), "rawcopy_rows/s"},
		{raw.took.Seconds() / ld.took.Seconds(), "rebuild/rawcopy"},
		{raw.took.Seconds(), "rawcopy_s"},
		{raw.byTable["events"].Seconds(), "rawcopy_events_s"},
		{raw.use.goCPU, "rawcopy_go_cpu_s"},
		{raw.use.pgCPU, "rawcopy_pg_cpu_s"},
		{raw.use.pgOtherCPU, "rawcopy_pgbg_cpu_s"},
		// The same ratios in CPU seconds (Go's and the backend's): what the
		// wall-clock ratios tend to when other work leaves no core idle and
		// the rebuild's decoding cannot overlap PostgreSQL's COPY.
		{(cp.use.goCPU + cp.use.pgCPU) / (ld.use.goCPU + ld.use.pgCPU), "cpu_rebuild/copy"},
		{(raw.use.goCPU + raw.use.pgCPU) / (ld.use.goCPU + ld.use.pgCPU), "cpu_rebuild/rawcopy"},
	}
	if raw.rows != cp.rows {
		// Both copy what the rebuild wrote; a difference is a bug here.
		ms = append(ms, metric{float64(raw.rows - cp.rows), "ROWS_DIFFER"})
	}
	for _, step := range []string{"fold", "wait", "events", "escalations", "facts", "merge_facts", "groups"} {
		ms = append(ms, metric{ld.steps[step].Seconds(), "step_" + step + "_s"})
	}
	// CPU by phase, the rebuild's and the baseline's for the same rows.
	for _, ph := range []struct{ name, table string }{{"events", "events"}, {"escalations", "escalations"}, {"merge_facts", "complaint_facts"}, {"groups", "season_groups"}, {"commit", ""}} {
		c := ld.phases[ph.name]
		ms = append(ms, metric{c.goCPU, "cpu_" + ph.name + "_go_s"}, metric{c.pgCPU, "cpu_" + ph.name + "_pg_s"})
		if ph.table != "" {
			b := cp.cpuByTable[ph.table]
			if ph.table == "season_groups" {
				v := cp.cpuByTable["season_values"]
				b = cpu{b.goCPU + v.goCPU, b.pgCPU + v.pgCPU}
			}
			ms = append(ms, metric{b.goCPU, "copycpu_" + ph.name + "_go_s"}, metric{b.pgCPU, "copycpu_" + ph.name + "_pg_s"})
		}
	}
	return ms
}
