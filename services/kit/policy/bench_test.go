package policy

import (
	"strings"
	"testing"
	"time"
)

// complaintText is a long complaint mixing simplified and traditional text,
// the kind intake classifies on every contact.
const complaintText = "一开始买的东西给我寄错了，联系客服先说给我换一个，然后问了好几个都说没货，终于找到一个有货的，" +
	"转接另一个售后客服但却直接翻脸不给换。一开始说没货，我说售前专员核实有货，然后又说去帮我反馈换货换产品问题，" +
	"结果等了好久也没人联系。再接进客服，就说之前的客服说错了，變臉技術是真的牛，自己說的都能變嗎？" +
	"訂單號2026031500123，實在不行我只能315了，呵呵了。我已經截圖準備發微博曝光，還要打12315投訴。"

// BenchmarkMatch compares the compiled automaton with the plain approach it
// replaces: normalise once, then strings.Contains for every keyword.
func BenchmarkMatch(b *testing.B) {
	p := shipped(b)
	m := p.Matcher()
	var keywords []string
	for _, c := range p.Categories {
		keywords = append(keywords, c.Keywords...)
	}
	for _, s := range p.Risk.Signals {
		keywords = append(keywords, s.Keywords...)
	}
	for _, f := range p.Risk.Flags {
		keywords = append(keywords, f.Keywords...)
	}
	for _, c := range p.CustomerTypes.Cues {
		keywords = append(keywords, c.Keywords...)
	}
	norm := NewNormalizer()
	for i, kw := range keywords {
		keywords[i] = norm.Normalize(kw)
	}
	baseline := func() int {
		t := norm.Normalize(complaintText)
		n := 0
		for _, kw := range keywords {
			if strings.Contains(t, kw) {
				n++
			}
		}
		return n
	}

	b.ResetTimer()
	b.StopTimer()
	start := time.Now()
	sink := 0
	for range b.N {
		sink += baseline()
	}
	base := time.Since(start)
	b.StartTimer()

	b.ReportAllocs()
	b.SetBytes(int64(len(complaintText)))
	for range b.N {
		sink += len(m.Match(complaintText).Signals)
	}
	b.StopTimer()
	ours := b.Elapsed()
	if sink == 0 {
		b.Fatal("nothing matched")
	}
	baseNs := float64(base.Nanoseconds()) / float64(b.N)
	oursNs := float64(ours.Nanoseconds()) / float64(b.N)
	b.ReportMetric(baseNs, "baseline-ns/op")
	b.ReportMetric(baseNs/oursNs, "x-vs-baseline")
	b.Logf("Match %.0f ns/op vs normalise+strings.Contains over %d keywords %.0f ns/op: %.1fx", oursNs, len(keywords), baseNs, baseNs/oursNs)
}

func BenchmarkNormalize(b *testing.B) {
	n := NewNormalizer()
	b.SetBytes(int64(len(complaintText)))
	b.ReportAllocs()
	for range b.N {
		_ = n.Normalize(complaintText)
	}
}

func BenchmarkParseShipped(b *testing.B) {
	data := []byte(readFile(b, shippedPath))
	b.ReportAllocs()
	for range b.N {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
