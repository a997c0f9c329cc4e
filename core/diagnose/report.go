package diagnose

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status of a check. The strings are part of the JSON contract.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check IDs. They are stable: support tickets and scripts key on them.
// Per-user checks append ":<user object id>".
const (
	IDSettings    = "settings"
	IDDNSLogin    = "dns.login"
	IDDNSGraph    = "dns.graph"
	IDDNSEventHub = "dns.eventhub"
	IDTLSLogin    = "tls.login"
	IDTLSGraph    = "tls.graph"
	IDTLSEventHub = "tls.eventhub"
	IDIdentity    = "identity"
	IDGraph       = "graph"
	IDHubAuth     = "eventhub.auth"
	IDHubTopic    = "eventhub.topic"
	IDHubLag      = "eventhub.lag"
	IDEndToEnd    = "e2e"
	userIDSep     = ":"
)

// UserCheckID is the ID of a per-user check, e.g. "identity:<oid>".
func UserCheckID(base, userID string) string { return base + userIDSep + userID }

// Report is a diagnostics run. Its JSON is identical to engine.Report's.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNs"`
	Checks   []Check       `json:"checks"`
}

// Check is one link of the chain. Its JSON is identical to engine.Check's.
type Check struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Status   Status        `json:"status"`
	Detail   string        `json:"detail"`
	Fix      string        `json:"fix,omitempty"`
	Duration time.Duration `json:"durationNs"`
}

// Failed reports whether any check failed (the CLI's exit status).
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the check with id.
func (r Report) Find(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Counts returns how many checks have each status.
func (r Report) Counts() map[Status]int {
	m := map[Status]int{}
	for _, c := range r.Checks {
		m[c.Status]++
	}
	return m
}

var marks = map[Status]string{Pass: "✔", Warn: "!", Fail: "✘", Skip: "–"}

// WriteText writes one line per check (✔ ! ✘ –) with details and the fix
// indented under it, then a summary line.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s %-28s %s (%s)\n", marks[c.Status], c.ID, c.Title, roundDur(c.Duration))
		if c.Detail != "" {
			writeIndented(&b, "    ", c.Detail)
		}
		if c.Fix != "" {
			writeIndented(&b, "    fix: ", c.Fix)
		}
	}
	n := r.Counts()
	verdict := "all checks passed"
	switch {
	case n[Fail] > 0:
		verdict = "FAILED: alerts may not arrive"
	case n[Warn] > 0:
		verdict = "working, with warnings"
	}
	fmt.Fprintf(&b, "%s — %d passed, %d warnings, %d failed, %d skipped in %s\n",
		verdict, n[Pass], n[Warn], n[Fail], n[Skip], roundDur(r.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeIndented(b *strings.Builder, first, text string) {
	pad := strings.Repeat(" ", len([]rune(first)))
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if i == 0 {
			b.WriteString(first)
		} else {
			b.WriteString(pad)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
}

func roundDur(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// WriteJSON writes the report as indented JSON (stable field names).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
