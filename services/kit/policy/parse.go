package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// keyIndex maps lines of the YAML document to key paths, so that the
// decoder's line-numbered complaints (unknown key, wrong type, duplicate
// key) can name the key path like every other problem.
type keyIndex struct {
	keys   []keyEntry     // every mapping key and sequence item
	byPath map[string]int // path -> line
}

type keyEntry struct {
	path      string
	key       string // the mapping key as written ("" for sequence items)
	keyLine   int
	valueLine int
	scalar    bool   // the value is a scalar
	value     string // the scalar value
}

func indexNode(n *yaml.Node) *keyIndex {
	ix := &keyIndex{byPath: map[string]int{}}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinKey(path, k.Value)
				ix.keys = append(ix.keys, keyEntry{path: p, key: k.Value, keyLine: k.Line, valueLine: v.Line, scalar: v.Kind == yaml.ScalarNode, value: v.Value})
				if _, dup := ix.byPath[p]; !dup {
					ix.byPath[p] = k.Line
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				ix.keys = append(ix.keys, keyEntry{path: p, keyLine: c.Line, valueLine: c.Line, scalar: c.Kind == yaml.ScalarNode, value: c.Value})
				ix.byPath[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(n, "")
	return ix
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// problemFromDecode turns one yaml.v3 TypeError line into a Problem. The
// patterns are compiled here because this runs only for a broken file.
func (ix *keyIndex) problemFromDecode(msg string) Problem {
	reNotFound := regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	reDuplicate := regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
	reUnmarshal := regexp.MustCompile(`^line (\d+): cannot unmarshal (!!\w+)(?: ` + "`" + `(.*)` + "`" + `)? into (\S+)$`)
	if m := reNotFound.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		for _, e := range ix.keys {
			if e.keyLine == line && e.key == m[2] {
				return Problem{Path: e.path, Reason: "unknown key", Line: line}
			}
		}
		return Problem{Path: fmt.Sprintf("line %s: %s", m[1], m[2]), Reason: "unknown key", Line: line}
	}
	if m := reDuplicate.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		for _, e := range ix.keys {
			if e.keyLine == line && e.key == m[2] {
				return Problem{Path: e.path, Reason: "duplicate key (first at line " + m[3] + ")", Line: line}
			}
		}
		return Problem{Path: fmt.Sprintf("line %s: %s", m[1], m[2]), Reason: "duplicate key (first at line " + m[3] + ")", Line: line}
	}
	if m := reUnmarshal.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		reason := typeReason(m[4])
		// The value node is on the line; prefer the deepest key whose value
		// starts there (a flow list item is deeper than its list).
		best := -1
		for i, e := range ix.keys {
			if e.valueLine == line && (best < 0 || len(e.path) > len(ix.keys[best].path)) {
				best = i
			}
		}
		value := ""
		if m[3] != "" {
			value = strconv.Quote(m[3])
		}
		if best >= 0 {
			return Problem{Path: ix.keys[best].path, Value: value, Reason: reason, Line: line}
		}
		return Problem{Path: "line " + m[1], Value: value, Reason: reason, Line: line}
	}
	return Problem{Path: "(document)", Reason: msg}
}

// typeReason says in words what a Go type wants.
func typeReason(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "must be a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "policy.raw"), strings.HasPrefix(goType, "*policy.raw"):
		return "must be a mapping"
	case goType == "bool", goType == "*bool":
		return "must be true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "must be a whole number"
	case goType == "string":
		return "must be a single value, not a list or mapping"
	}
	return "has the wrong type (want " + goType + ")"
}

func parse(data []byte, source string) (*Policy, error) {
	fail := func(ps ...Problem) error { return &ValidationError{Source: source, Problems: ps} }

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fail(Problem{Path: "(document)", Reason: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
	}
	if len(doc.Content) == 0 {
		return nil, fail(Problem{Path: "(document)", Reason: "empty: the policy file holds nothing"})
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fail(Problem{Path: "(document)", Reason: "must be a mapping of policy sections"})
	}
	ix := indexNode(&doc)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawPolicy
	if err := dec.Decode(&raw); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fail(Problem{Path: "(document)", Reason: err.Error()})
		}
		ps := make([]Problem, 0, len(te.Errors))
		for _, msg := range te.Errors {
			ps = append(ps, ix.problemFromDecode(msg))
		}
		return nil, fail(ps...)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fail(Problem{Path: "(document)", Reason: "must hold exactly one YAML document (found a second after ---)"})
	}

	v := &validator{}
	p := v.policy(&raw)
	if len(v.problems) > 0 {
		for i := range v.problems {
			v.problems[i].Line = ix.byPath[v.problems[i].Path]
		}
		return nil, fail(v.problems...)
	}
	sum := sha256.Sum256(data)
	p.Digest = hex.EncodeToString(sum[:])
	return p, nil
}
