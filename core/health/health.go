// Package health is the shared vocabulary of "is the chain working": each
// part (a monitoring user's token, its subscription, the Event Hub
// connection) reports a Component, and the overall state is the worst of
// them, with the reasons, for the tray.
package health

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Level orders states from fine to broken. The tray maps levels to icons.
type Level int

// Levels, worst last.
const (
	Unconfigured Level = iota // grey: nothing set up yet
	OK                        // green
	Degraded                  // amber: working, but needs attention soon
	Broken                    // red: alerts cannot arrive
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Degraded:
		return "degraded"
	case Broken:
		return "broken"
	default:
		return "unconfigured"
	}
}

// MarshalText makes levels readable in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (l *Level) UnmarshalText(b []byte) error {
	for _, c := range []Level{Unconfigured, OK, Degraded, Broken} {
		if c.String() == string(b) {
			*l = c
			return nil
		}
	}
	return fmt.Errorf("unknown health level %q", b)
}

// rank orders levels for combining: a part not set up yet makes the whole
// chain "not configured" (grey) unless another part is degraded or broken.
func rank(l Level) int {
	switch l {
	case OK:
		return 0
	case Unconfigured:
		return 1
	case Degraded:
		return 2
	default:
		return 3
	}
}

// Component is one part's state.
type Component struct {
	// Key identifies the part, e.g. "eventhub", "token/<user id>",
	// "subscription/<user id>".
	Key string `json:"key"`
	// Kind is "token", "subscription", "eventhub" or "settings".
	Kind  string `json:"kind"`
	Label string `json:"label"` // for people: "Event Hub", "Token: desk@contoso.com"
	Level Level  `json:"level"`
	// State is the part's own word (e.g. "healthy", "reauth_required").
	State   string    `json:"state"`
	Summary string    `json:"summary,omitempty"` // one line: what is wrong
	Fix     string    `json:"fix,omitempty"`     // what to do
	Since   time.Time `json:"since"`
	// Details are extra facts for screens (expiry, last refresh, …).
	Details map[string]string `json:"details,omitempty"`
}

// Overall is the combined state.
type Overall struct {
	Level      Level       `json:"level"`
	Reason     string      `json:"reason"` // one line for the tray tooltip
	Components []Component `json:"components"`
}

// Combine returns the worst level of components with its reason.
func Combine(cs []Component) Overall {
	o := Overall{Level: Unconfigured, Components: slices.Clone(cs)}
	slices.SortFunc(o.Components, func(a, b Component) int { return strings.Compare(a.Key, b.Key) })
	if len(cs) == 0 {
		o.Reason = "Not configured: open Settings"
		return o
	}
	o.Level = OK
	var bad []string
	for _, c := range o.Components {
		if rank(c.Level) > rank(o.Level) {
			o.Level = c.Level
		}
	}
	for _, c := range o.Components {
		if c.Level == o.Level && c.Level != OK {
			s := c.Label
			if c.Summary != "" {
				s += ": " + c.Summary
			}
			bad = append(bad, s)
		}
	}
	switch {
	case o.Level == OK:
		o.Reason = "All links healthy"
	case len(bad) > 0:
		o.Reason = strings.Join(bad, "; ")
	default:
		o.Reason = "Not configured: open Settings"
	}
	return o
}

// Board collects components and reports overall changes.
type Board struct {
	mu       sync.Mutex
	comps    map[string]Component
	onChange func(Overall)
}

// NewBoard returns a board calling onChange (may be nil) after each change,
// outside its lock, in order.
func NewBoard(onChange func(Overall)) *Board {
	return &Board{comps: map[string]Component{}, onChange: onChange}
}

// Set records c, keeping Since when the level and state did not change.
func (b *Board) Set(c Component) {
	b.mu.Lock()
	old, ok := b.comps[c.Key]
	if ok && old.Level == c.Level && old.State == c.State && old.Summary == c.Summary && maps(old.Details, c.Details) && old.Fix == c.Fix {
		b.mu.Unlock()
		return
	}
	if ok && old.Level == c.Level && old.State == c.State {
		c.Since = old.Since
	}
	if c.Since.IsZero() {
		c.Since = time.Now()
	}
	b.comps[c.Key] = c
	o := b.overallLocked()
	b.mu.Unlock()
	if b.onChange != nil {
		b.onChange(o)
	}
}

// Remove drops a component (e.g. a removed monitoring user).
func (b *Board) Remove(key string) {
	b.mu.Lock()
	if _, ok := b.comps[key]; !ok {
		b.mu.Unlock()
		return
	}
	delete(b.comps, key)
	o := b.overallLocked()
	b.mu.Unlock()
	if b.onChange != nil {
		b.onChange(o)
	}
}

// Has reports whether a component is on the board.
func (b *Board) Has(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.comps[key]
	return ok
}

// Overall returns the current combined state.
func (b *Board) Overall() Overall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overallLocked()
}

func (b *Board) overallLocked() Overall {
	cs := make([]Component, 0, len(b.comps))
	for _, c := range b.comps {
		cs = append(cs, c)
	}
	return Combine(cs)
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
