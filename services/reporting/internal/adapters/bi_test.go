package adapters_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
)

var (
	viewHeading = regexp.MustCompile("^## `(bi\\.[a-z_]+)`")
	columnRow   = regexp.MustCompile("^\\| `([a-z_0-9]+)` \\| ([a-z ]+(?:\\[\\])?) \\|")
)

// documentedColumns reads docs/bi.md: each view's columns and types, in order.
func documentedColumns(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../../../../docs/bi.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	view := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := viewHeading.FindStringSubmatch(sc.Text()); m != nil {
			view = m[1]
			continue
		}
		if m := columnRow.FindStringSubmatch(sc.Text()); m != nil && view != "" {
			out[view] = append(out[view], m[1]+" "+m[2])
		}
	}
	return out
}

// The bi views keep exactly the columns docs/bi.md documents, in order and
// with their types: BI tools and analysts' queries depend on them.
func TestBIViewsKeepTheirDocumentedColumns(t *testing.T) {
	e := newEnv(t)
	docs := documentedColumns(t)
	if len(docs) != 3 {
		t.Fatalf("docs/bi.md documents %d views, want 3", len(docs))
	}
	for view, want := range docs {
		rows, err := e.pool.Query(context.Background(), `
			SELECT column_name, CASE WHEN data_type = 'ARRAY' THEN substr(udt_name, 2) || '[]'
			                         WHEN data_type = 'timestamp with time zone' THEN 'timestamptz' ELSE data_type END
			  FROM information_schema.columns WHERE table_schema || '.' || table_name = $1 ORDER BY ordinal_position`, view)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, name+" "+typ)
		}
		rows.Close()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s columns differ from docs/bi.md:\ndb   %v\ndocs %v", view, got, want)
		}
	}
}
