package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRosterIsOptionalWithDefaultGrace(t *testing.T) {
	p := minimal(t)
	if len(p.Roster.Agents) != 0 || p.Roster.OfflineGrace != DefaultOfflineGrace {
		t.Errorf("roster %+v", p.Roster)
	}
}

func TestShippedRoster(t *testing.T) {
	p := shipped(t)
	if p.Roster.OfflineGrace != 5*time.Minute || len(p.Roster.Agents) == 0 {
		t.Fatalf("roster %+v", p.Roster)
	}
	for _, a := range p.Roster.Agents {
		for _, s := range a.Skills {
			if _, ok := p.Queue(s); !ok {
				t.Errorf("%s: unknown skill %s", a.ID, s)
			}
		}
	}
}

func TestRosterValidationNamesKeyAndValue(t *testing.T) {
	base := readFile(t, "testdata/minimal.yaml")
	good := "\nroster:\n  offline_grace: 10m\n  agents:\n    - {id: agent-1, name: 甲, tier: 1, skills: [general], capacity: 4}\n"
	p, err := Parse([]byte(base + good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Roster.OfflineGrace != 10*time.Minute || len(p.Roster.Agents) != 1 || p.Roster.Agents[0].Capacity != 4 {
		t.Errorf("roster %+v", p.Roster)
	}
	cases := []struct{ name, yaml, want string }{
		{"bad grace", "\nroster:\n  offline_grace: 3wd\n", "roster.offline_grace"},
		{"unknown skill", "\nroster:\n  agents:\n    - {id: a, tier: 1, skills: [nope], capacity: 1}\n", `roster.agents[0].skills[0]: "nope"`},
		{"no skills", "\nroster:\n  agents:\n    - {id: a, tier: 1, capacity: 1}\n", "roster.agents[0].skills"},
		{"tier", "\nroster:\n  agents:\n    - {id: a, tier: 7, skills: [general], capacity: 1}\n", "roster.agents[0].tier: 7"},
		{"capacity", "\nroster:\n  agents:\n    - {id: a, tier: 1, skills: [general], capacity: 0}\n", "roster.agents[0].capacity: 0"},
		{"duplicate", "\nroster:\n  agents:\n    - {id: a, tier: 1, skills: [general], capacity: 1}\n    - {id: a, tier: 1, skills: [general], capacity: 1}\n", "roster.agents[1].id"},
		{"shop", "\nroster:\n  agents:\n    - {id: a, tier: 1, skills: [general], capacity: 1, shops: [nope]}\n", `roster.agents[0].shops[0]: "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.yaml))
			probs := problemsOf(t, err)
			if !slices.ContainsFunc(probs, func(p string) bool { return strings.HasPrefix(p, tc.want) }) {
				t.Errorf("problems %q, want one starting %q", probs, tc.want)
			}
		})
	}
}
