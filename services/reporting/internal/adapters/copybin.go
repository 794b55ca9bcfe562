package adapters

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// binaryRows builds COPY's binary format directly from typed values. pgx's
// CopyFrom takes rows of []any: every value is boxed on the way in and
// looked up in the type map on the way out, which cost a rebuild as much Go
// time per event row as decoding and folding the event. Writing the wire
// format ourselves leaves a rebuild one append per column.
//
// The encodings are PostgreSQL's binary send formats, identical to what pgx
// writes for the same Go values (timestamptz: microseconds since 2000-01-01,
// truncated; uuid: 16 bytes, parsed as pgx parses a string).
type binaryRows struct {
	buf  []byte
	rows int
}

var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (b *binaryRows) reset() {
	b.buf = append(b.buf[:0], copyBinaryHeader...)
	b.rows = 0
}

func (b *binaryRows) row(fields int) {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, copyBinaryHeader...)
	}
	b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(fields))
	b.rows++
}

func (b *binaryRows) int8(v int64) {
	b.buf = binary.BigEndian.AppendUint32(b.buf, 8)
	b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(v))
}

func (b *binaryRows) int4(v int32) {
	b.buf = binary.BigEndian.AppendUint32(b.buf, 4)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(v))
}

func (b *binaryRows) bool(v bool) {
	b.buf = binary.BigEndian.AppendUint32(b.buf, 1)
	if v {
		b.buf = append(b.buf, 1)
	} else {
		b.buf = append(b.buf, 0)
	}
}

func (b *binaryRows) text(s string) {
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(s)))
	b.buf = append(b.buf, s...)
}

// null writes SQL NULL.
func (b *binaryRows) null() {
	b.buf = binary.BigEndian.AppendUint32(b.buf, 0xffffffff)
}

// date writes t's calendar day, read in t's own location as pgx reads it,
// as days since PostgreSQL's epoch.
func (b *binaryRows) date(t time.Time) {
	y, m, d := t.Date()
	b.int4(int32((time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - 946684800) / 86400))
}

// textOID is the type of a text[]'s elements.
const textOID = 25

// textArray writes a one-dimensional text[] of non-null elements; an empty
// one has no dimensions, as pgx writes it.
func (b *binaryRows) textArray(ss []string) {
	at := len(b.buf)
	b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // the length, set below
	if len(ss) == 0 {
		b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // dimensions
	} else {
		b.buf = binary.BigEndian.AppendUint32(b.buf, 1)
	}
	b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // no nulls
	b.buf = binary.BigEndian.AppendUint32(b.buf, textOID)
	if len(ss) > 0 {
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(ss)))
		b.buf = binary.BigEndian.AppendUint32(b.buf, 1) // lower bound
		for _, s := range ss {
			b.text(s)
		}
	}
	binary.BigEndian.PutUint32(b.buf[at:], uint32(len(b.buf)-at-4))
}

// microsecFromUnixEpochToY2K is PostgreSQL's epoch in Unix microseconds.
const microsecFromUnixEpochToY2K = 946684800 * 1000000

func (b *binaryRows) timestamptz(t time.Time) {
	b.int8(t.Unix()*1000000 + int64(t.Nanosecond())/1000 - microsecFromUnixEpochToY2K)
}

// uuid accepts what pgx accepts for a string bound to a uuid column: 36
// characters with the dashes where they belong, or 32 hex digits.
func (b *binaryRows) uuid(s string) error {
	var src [32]byte // the hex digits, gathered without allocating
	switch len(s) {
	case 36:
		copy(src[0:8], s[0:8])
		copy(src[8:12], s[9:13])
		copy(src[12:16], s[14:18])
		copy(src[16:20], s[19:23])
		copy(src[20:32], s[24:])
	case 32:
		copy(src[:], s)
	default:
		return fmt.Errorf("cannot parse UUID %q", s)
	}
	b.buf = binary.BigEndian.AppendUint32(b.buf, 16)
	n := len(b.buf)
	b.buf = append(b.buf, make([]byte, 16)...)
	if _, err := hex.Decode(b.buf[n:], src[:]); err != nil {
		b.buf = b.buf[:n-4]
		return fmt.Errorf("cannot parse UUID %q: %w", s, err)
	}
	return nil
}

// copyBinary sends the rows, with the trailer, as one COPY … FROM STDIN.
func copyBinary(ctx context.Context, tx pgx.Tx, table string, columns []string, b *binaryRows) (int64, error) {
	if b.rows == 0 {
		return 0, nil
	}
	data := binary.BigEndian.AppendUint16(b.buf, 0xffff)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data),
		"COPY "+table+" ("+strings.Join(columns, ", ")+") FROM STDIN (FORMAT binary)")
	if err != nil {
		return tag.RowsAffected(), fmt.Errorf("copy %d rows into %s: %w", b.rows, table, err)
	}
	return tag.RowsAffected(), nil
}
