package domain

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkClassify classifies the table's complaints one per op and prints,
// measured in the same run, two baselines: the naive approach (normalise,
// then strings.Contains for every keyword of the policy, which finds less
// than Classify decides) and the policy's Matcher alone (the floor).
func BenchmarkClassify(b *testing.B) {
	p := classifyPolicy(b)
	cases := classifyCases()
	ins := make([]ClassifyInput, len(cases))
	var bytes int
	for i, c := range cases {
		ins[i] = c.input(b)
		bytes += len(c.text)
	}
	var keywords []string
	add := func(kws []string) {
		for _, kw := range kws {
			keywords = append(keywords, p.Matcher().Normalize(kw))
		}
	}
	for _, c := range p.Categories {
		add(c.Keywords)
	}
	for _, s := range p.Risk.Signals {
		add(s.Keywords)
	}
	for _, f := range p.Risk.Flags {
		add(f.Keywords)
	}
	for _, c := range p.CustomerTypes.Cues {
		add(c.Keywords)
	}
	naive := func(text string) int {
		t := p.Matcher().Normalize(text)
		n := 0
		for _, kw := range keywords {
			if strings.Contains(t, kw) {
				n++
			}
		}
		return n
	}
	sink := 0
	measure := func(f func(i int)) time.Duration {
		start := time.Now()
		for i := range b.N {
			f(i % len(ins))
		}
		return time.Since(start)
	}

	b.StopTimer()
	naiveDur := measure(func(i int) { sink += naive(ins[i].Text) })
	matchDur := measure(func(i int) { sink += len(p.Matcher().Match(ins[i].Text).Signals) })
	b.ReportAllocs()
	b.SetBytes(int64(bytes / len(ins)))
	b.ResetTimer()
	b.StartTimer()
	for i := range b.N {
		sink += len(Classify(p, ins[i%len(ins)]).GetRiskSignals())
	}
	b.StopTimer()
	if sink == 0 {
		b.Fatal("nothing matched")
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	ours, naiveNs, matchNs := per(b.Elapsed()), per(naiveDur), per(matchDur)
	b.ReportMetric(naiveNs, "naive-ns/op")
	b.ReportMetric(matchNs, "match-ns/op")
	b.ReportMetric(naiveNs/ours, "x-faster-than-naive")
	b.Logf("Classify %.0f ns/complaint; naive normalise+strings.Contains over %d keywords %.0f ns (%.1fx slower than Classify); Matcher.Match alone %.0f ns (Classify = %.1fx Match); %d complaints, %d bytes on average",
		ours, len(keywords), naiveNs, naiveNs/ours, matchNs, ours/matchNs, len(ins), bytes/len(ins))
}

// BenchmarkClassifyLong is one long complaint (many contacts joined).
func BenchmarkClassifyLong(b *testing.B) {
	p := classifyPolicy(b)
	var sb strings.Builder
	for _, c := range classifyCases() {
		sb.WriteString(c.text)
	}
	in := ClassifyInput{ShopID: "demo-flagship", At: classifyBattleDay(b), Text: sb.String(), Contacts: 5, Transfers: 2}
	b.SetBytes(int64(len(in.Text)))
	b.ReportAllocs()
	for range b.N {
		_ = Classify(p, in)
	}
}
