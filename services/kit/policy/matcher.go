package policy

import "slices"

// The matcher is an Aho-Corasick automaton over the UTF-8 bytes of the
// normalised keywords, compiled once into a dense transition table: matching
// a text costs one table lookup per byte whatever the number of keywords.
// Matching bytes instead of runes is safe because UTF-8 is self-synchronising:
// a valid keyword can only match at rune boundaries of valid text.

// Hit is one category, signal or flag found in a text.
type Hit struct {
	ID string
	// Count is how many times its keywords occur.
	Count int
	// Keywords lists the distinct keywords found, as written in the policy.
	Keywords []string
}

// MatchResult is what a text matched, each list in policy order.
type MatchResult struct {
	Categories []Hit
	Signals    []Hit
	Flags      []Hit
	// Cues are customer-type cue keywords; a Hit's ID is the CustomerType.
	Cues []Hit
}

// Category is the best-matching category: most keyword occurrences, ties to
// the one listed first in the policy. ok is false when none matched.
func (r MatchResult) Category() (id string, ok bool) {
	best := -1
	for i, h := range r.Categories {
		if best < 0 || h.Count > r.Categories[best].Count {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return r.Categories[best].ID, true
}

// SignalIDs lists the matched signal ids.
func (r MatchResult) SignalIDs() []string { return hitIDs(r.Signals) }

// FlagIDs lists the matched flag ids.
func (r MatchResult) FlagIDs() []string { return hitIDs(r.Flags) }

func hitIDs(hs []Hit) []string {
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	return ids
}

type ownerKind uint8

const (
	kindCategory ownerKind = iota
	kindSignal
	kindFlag
	kindCue
	nkinds
)

// owner is a category, signal, flag or customer-type cue one pattern stands
// for, and the keyword as the policy wrote it.
type owner struct {
	kind    ownerKind
	index   int // into the policy's list of that kind
	keyword string
}

type pattern struct {
	length int
	// Latin letters and digits at an edge must not continue into the text
	// around the match, so "315" does not match inside "12315" or an order
	// number, and "fake" does not match inside "fakery".
	wordStart, wordEnd bool
	owners             []owner
}

// Matcher finds categories, risk signals, complainant flags and
// customer-type cues in free text, in simplified or traditional Chinese,
// full-width or half-width, any case. It is built by Parse and safe for
// concurrent use.
type Matcher struct {
	norm     *Normalizer
	classOf  [256]uint16
	nclass   int
	delta    []int32   // state*nclass + class -> state
	out      [][]int32 // state -> patterns ending here (own and via failure links)
	patterns []pattern
	ids      [nkinds][]string // per kind, the ids in policy order
	base     [nkinds]int      // per kind, its first slot in the per-match counts
	slots    int
}

type matchKeywords struct {
	ids      []string
	keywords [][]string
}

func newMatcher(norm *Normalizer, cats, sigs, flags, cues matchKeywords) *Matcher {
	m := &Matcher{norm: norm}
	for k, l := range [nkinds]matchKeywords{cats, sigs, flags, cues} {
		m.ids[k] = l.ids
		m.base[k] = m.slots
		m.slots += len(l.ids)
	}
	byText := map[string]int{}
	add := func(kind ownerKind, lists matchKeywords) {
		for i, kws := range lists.keywords {
			for _, kw := range kws {
				n := norm.Normalize(kw)
				if n == "" {
					continue
				}
				pi, ok := byText[n]
				if !ok {
					pi = len(m.patterns)
					byText[n] = pi
					m.patterns = append(m.patterns, pattern{length: len(n), wordStart: isWordByte(n[0]), wordEnd: isWordByte(n[len(n)-1])})
				}
				dup := false
				for _, o := range m.patterns[pi].owners {
					if o.kind == kind && o.index == i {
						dup = true // another spelling of a keyword already listed
						break
					}
				}
				if !dup {
					m.patterns[pi].owners = append(m.patterns[pi].owners, owner{kind: kind, index: i, keyword: kw})
				}
			}
		}
	}
	add(kindCategory, cats)
	add(kindSignal, sigs)
	add(kindFlag, flags)
	add(kindCue, cues)

	texts := make([]string, len(m.patterns))
	for t, i := range byText {
		texts[i] = t
	}
	// Byte classes: bytes no keyword uses share class 0, which keeps the
	// table small (CJK keywords use only a few dozen distinct bytes).
	m.nclass = 1
	for _, t := range texts {
		for i := 0; i < len(t); i++ {
			if m.classOf[t[i]] == 0 {
				m.classOf[t[i]] = uint16(m.nclass)
				m.nclass++
			}
		}
	}
	// Trie, built straight into the transition table: -1 marks a missing
	// edge until the breadth-first pass below fills it from failure links.
	nc := m.nclass
	m.delta = make([]int32, 0, nc*len(texts)*4)
	missing := make([]int32, nc)
	for c := range missing {
		missing[c] = -1
	}
	newState := func() int32 {
		m.delta = append(m.delta, missing...)
		m.out = append(m.out, nil)
		return int32(len(m.out) - 1)
	}
	newState() // the root
	for pi, t := range texts {
		s := int32(0)
		for i := 0; i < len(t); i++ {
			e := int(s)*nc + int(m.classOf[t[i]])
			if m.delta[e] < 0 {
				nx := newState()
				m.delta[e] = nx
			}
			s = m.delta[e]
		}
		m.out[s] = append(m.out[s], int32(pi))
	}
	// Breadth-first: each state's failure link is shallower, so its row and
	// outputs are complete when the state is reached.
	fail := make([]int32, len(m.out))
	queue := make([]int32, 0, len(m.out))
	for c := range nc {
		if nx := m.delta[c]; nx > 0 {
			queue = append(queue, nx) // fail[nx] = 0
		} else {
			m.delta[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if f := fail[s]; len(m.out[f]) > 0 {
			m.out[s] = append(m.out[s][:len(m.out[s]):len(m.out[s])], m.out[f]...)
		}
		row, frow := int(s)*nc, int(fail[s])*nc
		for c := range nc {
			if nx := m.delta[row+c]; nx >= 0 {
				fail[nx] = m.delta[frow+c]
				queue = append(queue, nx)
			} else {
				m.delta[row+c] = m.delta[frow+c]
			}
		}
	}
	return m
}

func isWordByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// Normalize folds text the way the matcher does before matching.
func (m *Matcher) Normalize(s string) string { return m.norm.Normalize(s) }

// Match finds the categories, signals, flags and customer-type cues whose
// keywords occur in text.
func (m *Matcher) Match(text string) MatchResult {
	t := m.norm.Normalize(text)
	var counts []int // per owner slot, allocated on the first hit
	var kws [][]string
	s := int32(0)
	for i := 0; i < len(t); i++ {
		s = m.delta[int(s)*m.nclass+int(m.classOf[t[i]])]
		for _, pi := range m.out[s] {
			p := &m.patterns[pi]
			start := i + 1 - p.length
			if p.wordStart && start > 0 && isWordByte(t[start-1]) {
				continue
			}
			if p.wordEnd && i+1 < len(t) && isWordByte(t[i+1]) {
				continue
			}
			if counts == nil {
				counts = make([]int, m.slots)
				kws = make([][]string, m.slots)
			}
			for _, o := range p.owners {
				k := m.base[o.kind] + o.index
				counts[k]++
				// Each owner lists a pattern once, so a keyword repeats only
				// when the pattern matched before; the lists are short.
				if !slices.Contains(kws[k], o.keyword) {
					kws[k] = append(kws[k], o.keyword)
				}
			}
		}
	}
	var r MatchResult
	if counts == nil {
		return r
	}
	collect := func(k ownerKind) []Hit {
		var hs []Hit
		for i, id := range m.ids[k] {
			if c := counts[m.base[k]+i]; c > 0 {
				hs = append(hs, Hit{ID: id, Count: c, Keywords: kws[m.base[k]+i]})
			}
		}
		return hs
	}
	r.Categories = collect(kindCategory)
	r.Signals = collect(kindSignal)
	r.Flags = collect(kindFlag)
	r.Cues = collect(kindCue)
	return r
}
