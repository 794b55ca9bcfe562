package render

import (
	"fmt"

	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// Formats the report renders to.
const (
	FormatJSON = "json"
	FormatHTML = "html"
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
)

// File is a rendered report.
type File struct {
	ContentType string
	Name        string
	Content     []byte
}

// Render renders the report in a format, labelling ids with lb.
func Render(r *domain.Report, format string, lb domain.Labeler) (*File, error) {
	lb.Lang = r.Language
	name := fmt.Sprintf("315-report-%s-%d.%s.%s", r.ShopID, r.Season.Year, r.Language, format)
	tables := func() []Table { return Tables(r, lb.Label) }
	switch format {
	case FormatJSON:
		b, err := JSON(r)
		return &File{"application/json", name, b}, err
	case FormatHTML:
		return &File{"text/html; charset=utf-8", name, HTML(r, tables(), lb.Label)}, nil
	case FormatXLSX:
		b, err := XLSX(tables())
		return &File{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name, b}, err
	case FormatCSV:
		b, err := CSV(tables())
		return &File{"text/csv; charset=utf-8", name, b}, err
	}
	return nil, fmt.Errorf("unknown format %q", format)
}
