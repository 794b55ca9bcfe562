package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// CellKind is how the cell at row, col is shown: the column's kind, except
// that the value columns of key/value tables hold rates on rate rows.
func CellKind(t Table, row, col int) string {
	k := t.Columns[col].Kind
	if k == KindFloat && col >= 2 && len(t.Rows[row]) > 0 {
		if key, ok := t.Rows[row][0].(string); ok && (strings.HasSuffix(key, "rate") || strings.HasSuffix(key, "coverage")) {
			return KindRate
		}
	}
	return k
}

// Format shows a cell as text for people (HTML).
func Format(v any, kind string) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		if kind == KindRate {
			return fmt.Sprintf("%.1f%%", float64(x)*100)
		}
		return strconv.FormatInt(x, 10)
	case float64:
		switch kind {
		case KindRate:
			return fmt.Sprintf("%.1f%%", x*100)
		case KindYuan:
			return fmt.Sprintf("%.2f", x)
		case KindInt:
			return fmt.Sprintf("%.0f", x)
		}
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprint(v)
}

// JSON renders the report document.
func JSON(r *domain.Report) ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// CSV renders every table in long form, one value per line:
// section, group, metric, value. Numbers are plain (rates as fractions,
// amounts in yuan), so a spreadsheet or a script reads them as numbers.
func CSV(tables []Table) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // Excel opens UTF-8 Chinese text correctly only with a BOM
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"section", "group", "metric", "value"})
	for _, t := range tables {
		for _, row := range t.Rows {
			group := fmt.Sprint(row[0])
			for c := 1; c < len(row); c++ {
				var v string
				switch x := row[c].(type) {
				case float64:
					v = strconv.FormatFloat(x, 'f', -1, 64)
				default:
					v = fmt.Sprint(x)
				}
				if err := w.Write([]string{t.ID, group, t.Columns[c].Key, v}); err != nil {
					return nil, err
				}
			}
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// XLSX renders a workbook with one sheet per table: a header row of labels,
// then the rows with numbers stored as numbers (rates as fractions with a
// percentage format, amounts in yuan with two decimals).
func XLSX(tables []Table) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	pctStyle, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%
	if err != nil {
		return nil, err
	}
	yuanStyle, err := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
	if err != nil {
		return nil, err
	}
	boldStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	for i, t := range tables {
		name := SheetName(t.ID)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return nil, err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			return nil, err
		}
		header := make([]any, len(t.Columns))
		for c, col := range t.Columns {
			header[c] = excelize.Cell{Value: col.Label, StyleID: boldStyle}
		}
		if err := sw.SetRow("A1", header); err != nil {
			return nil, err
		}
		for r, row := range t.Rows {
			cells := make([]any, len(row))
			for c, v := range row {
				cell := excelize.Cell{Value: v}
				switch CellKind(t, r, c) {
				case KindRate:
					cell.StyleID = pctStyle
				case KindYuan:
					cell.StyleID = yuanStyle
				}
				cells[c] = cell
			}
			axis, _ := excelize.CoordinatesToCellName(1, r+2)
			if err := sw.SetRow(axis, cells); err != nil {
				return nil, err
			}
		}
		if err := sw.Flush(); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SheetName is the sheet of a table: its id, within Excel's 31 characters.
func SheetName(id string) string {
	if len(id) > 31 {
		return id[:31]
	}
	return id
}
