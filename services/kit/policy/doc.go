// Package policy holds what a merchant tunes in Kesu: shops and their time
// zones, the 315 season and its phases, channels, complaint categories and
// their keywords, risk signals and severity rules, queues and routing rules,
// agent tiers and refund caps, SLA clocks, the escalation ladder, follow-up
// rules, dispute folding and China's holiday calendar (DESIGN.md §6).
//
// Everything comes from one YAML file, loaded once at start-up with [Load] or
// [Parse]. Decoding is strict (an unknown key is an error) and validation
// reports every problem at once, each naming the YAML key path and the bad
// value, so a service refuses to start on an invalid file and the operator
// fixes it in one pass.
//
// A [Policy] is read-only after loading and safe for concurrent use. Money is
// integer fen ([Fen]); the YAML writes it in yuan. Durations are Go durations
// ("30s", "2h"), whole calendar days ("7d") or working days ("10wd", counted on
// the holiday [Calendar]).
package policy
