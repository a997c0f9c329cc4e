package alert

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"emergencydesk/core/config"
	"emergencydesk/core/msgraph"
)

// maxTrackedChats bounds the set of chats remembered as emergency chats.
const maxTrackedChats = 4096

// Field length caps keep a hostile message from filling the log.
const (
	maxNameRunes     = 128
	maxLocationRunes = 512
)

// Rules recognises emergency-call notifications. Build it with NewRules from
// the settings; it is safe for concurrent use.
type Rules struct {
	patterns []string // folded
	numbers  []number
	now      func() time.Time

	mu    sync.Mutex
	chats map[string]time.Time // chats that carried an emergency notification
}

type number struct {
	digits string // "+" allowed first
	test   bool
}

// NewRules builds the recogniser from config.Alerts. Blank patterns are
// skipped; with none left the default pattern is used, so a bad setting
// never silences the desk.
func NewRules(cfg config.Alerts) *Rules {
	r := &Rules{now: time.Now, chats: map[string]time.Time{}}
	seen := map[string]bool{}
	for _, p := range cfg.Patterns {
		if f := Fold(p); f != "" && !seen[f] {
			seen[f] = true
			r.patterns = append(r.patterns, f)
		}
	}
	if len(r.patterns) == 0 {
		r.patterns = []string{Fold(config.DefaultPattern)}
	}
	for _, n := range cfg.Numbers {
		if d := normNumber(n.Number); d != "" {
			r.numbers = append(r.numbers, number{digits: d, test: n.Test})
		}
	}
	return r
}

// normNumber keeps the digits of a phone number (and a leading '+').
func normNumber(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' && i == 0:
			b.WriteRune(c)
		}
	}
	if d := strings.TrimPrefix(b.String(), "+"); d == "" {
		return ""
	}
	return b.String()
}

// Meta is what the pipeline knows about a message besides its content.
type Meta struct {
	MonitoringUser string
	// ChatID is used when the message itself has no chatId (parsed from
	// the notification's resource).
	ChatID string
	// ChatType is recorded when known (group, oneOnOne, meeting).
	ChatType string
	// ReceivedAt defaults to now.
	ReceivedAt time.Time
	// Source defaults to SourceLive.
	Source Source
	// Raw is the message JSON as received; when nil the parsed message
	// is re-encoded.
	Raw json.RawMessage
}

// match is where a pattern was found in a message's text.
type match struct {
	text       string // plain text, lines separated by '\n'
	runes      []rune
	start, end int // rune positions of the pattern in runes
}

// find looks for any pattern in the message's text (body, subject, card
// text). It returns nil when no pattern matches.
func (r *Rules) find(msg *msgraph.ChatMessage) *match {
	if msg == nil || msg.DeletedDateTime != nil {
		return nil
	}
	text := messageText(msg)
	if text == "" {
		return nil
	}
	runes := []rune(text)
	folded := make([]rune, len(runes))
	for i, c := range runes {
		folded[i] = foldRune(c)
	}
	fs := string(folded)
	for _, p := range r.patterns {
		if bi := strings.Index(fs, p); bi >= 0 {
			start := utf8.RuneCountInString(fs[:bi])
			return &match{text: text, runes: runes, start: start, end: start + utf8.RuneCountInString(p)}
		}
	}
	return nil
}

// messageText is the plain text a reader would see: subject, body and the
// text of any card attachments.
func messageText(msg *msgraph.ChatMessage) string {
	var parts []string
	if msg.Subject != nil {
		if s := tidy(*msg.Subject); s != "" {
			parts = append(parts, s)
		}
	}
	if s := PlainText(msg.Body.ContentType, msg.Body.Content); s != "" {
		parts = append(parts, s)
	}
	for _, a := range msg.Attachments {
		if a.Content == nil || !strings.Contains(strings.ToLower(a.ContentType), "card") {
			continue
		}
		if s := cardText(*a.Content); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

// cardText collects the visible strings of an adaptive/hero card JSON.
func cardText(content string) string {
	if len(content) > MaxTextBytes {
		return ""
	}
	var v any
	if json.Unmarshal([]byte(content), &v) != nil {
		return ""
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for _, k := range []string{"title", "subtitle", "text", "value", "fallbackText"} {
				if s, ok := t[k].(string); ok {
					if s = tidy(s); s != "" {
						out = append(out, s)
					}
				}
			}
			for k, c := range t {
				if _, isStr := c.(string); !isStr || k == "" {
					walk(c, depth+1)
				}
			}
		case []any:
			for _, c := range t {
				walk(c, depth+1)
			}
		}
	}
	walk(v, 0)
	return strings.Join(out, "\n")
}

// Recognize reports whether msg is an emergency-call notification and, if
// so, returns the alert. A recognised message's chat is remembered as an
// emergency chat (see Suspicious).
func (r *Rules) Recognize(msg *msgraph.ChatMessage, meta Meta) (Alert, bool) {
	m := r.find(msg)
	if m == nil {
		return Alert{}, false
	}
	a := Alert{
		ID:             msg.ID,
		ChatID:         msg.ChatID,
		ChatType:       meta.ChatType,
		WebURL:         msg.WebURL,
		Text:           m.text,
		Importance:     msg.Importance,
		MonitoringUser: meta.MonitoringUser,
		Source:         meta.Source,
		ReceivedAt:     meta.ReceivedAt,
		Raw:            meta.Raw,
	}
	if a.ChatID == "" {
		a.ChatID = meta.ChatID
	}
	if a.Source == "" {
		a.Source = SourceLive
	}
	if a.ReceivedAt.IsZero() {
		a.ReceivedAt = r.now()
	}
	a.ReceivedAt = a.ReceivedAt.UTC()
	if t, err := time.Parse(time.RFC3339Nano, msg.CreatedDateTime); err == nil {
		a.CreatedAt = t.UTC()
	}
	if a.Raw == nil {
		if b, err := json.Marshal(msg); err == nil {
			a.Raw = b
		}
	}
	if msg.From != nil && msg.From.User != nil && strings.TrimSpace(msg.From.User.DisplayName) != "" {
		a.CallerName = clip(tidy(msg.From.User.DisplayName), maxNameRunes)
		a.CallerID = msg.From.User.ID
	} else {
		if msg.From != nil && msg.From.User != nil {
			a.CallerID = msg.From.User.ID
		}
		a.CallerName = nameBefore(m)
	}
	var numEnd int
	a.Location, numEnd = "", m.end
	if n, end := numberAfter(m); n != "" {
		a.Number, numEnd = n, end
	}
	a.Location = location(m, numEnd)
	if a.Number == "" {
		a.Number = r.numberAnywhere(m.text, a.Location)
	}
	for _, n := range r.numbers {
		if n.test && n.digits == a.Number {
			a.IsTest = true
		}
	}
	if a.ChatID != "" {
		r.NoteEmergencyChat(a.ChatID)
	}
	return a, true
}

// Matches reports whether msg's text holds a pattern, without side effects.
func (r *Rules) Matches(msg *msgraph.ChatMessage) bool { return r.find(msg) != nil }

// NoteEmergencyChat remembers chatID as a chat that carried an emergency
// notification (the engine seeds it from the alert log on start).
func (r *Rules) NoteEmergencyChat(chatID string) {
	if chatID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.chats[chatID]; !ok && len(r.chats) >= maxTrackedChats {
		var oldest string
		var ot time.Time
		for id, t := range r.chats {
			if oldest == "" || t.Before(ot) {
				oldest, ot = id, t
			}
		}
		delete(r.chats, oldest)
	}
	r.chats[chatID] = r.now()
}

// IsEmergencyChat reports whether chatID carried an emergency notification.
func (r *Rules) IsEmergencyChat(chatID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.chats[chatID]
	return ok
}

// Suspicious reports whether msg is an unrecognised high/urgent message in
// a chat that earlier carried an emergency notification: possibly a wording
// the patterns do not know. The engine logs it; it is not an alert.
func (r *Rules) Suspicious(msg *msgraph.ChatMessage) bool {
	if msg == nil || msg.DeletedDateTime != nil || !HighImportance(msg.Importance) {
		return false
	}
	if !r.IsEmergencyChat(msg.ChatID) {
		return false
	}
	return r.find(msg) == nil
}

// HighImportance reports whether importance is high or urgent.
func HighImportance(importance string) bool {
	return strings.EqualFold(importance, "high") || strings.EqualFold(importance, "urgent")
}

func clip(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return strings.TrimSpace(string(rs[:n])) + "…"
}

// nameBefore takes the caller's name from the text before the pattern on
// the same line ("Alex Doe has placed …"), after any earlier sentence.
func nameBefore(m *match) string {
	i := m.start
	for i > 0 && m.runes[i-1] != '\n' {
		i--
	}
	s := string(m.runes[i:m.start])
	if k := strings.LastIndexAny(s, ".!?:;"); k >= 0 {
		s = s[k+1:]
	}
	s = strings.TrimFunc(s, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsPunct(c) })
	return clip(s, maxNameRunes)
}

// numPat is a dialled number: 2–15 digits, or an international number that
// may be grouped with spaces or dashes.
const numPat = `\+\d(?:[ \-]?\d){1,14}|\d{2,15}`

// numberAfterRE finds a dialled number right after the pattern: "… Call to
// 911", "… Call, number dialed: 112". numberBareRE takes a bare number only
// when nothing but punctuation follows it ("… Call (911).") so a house
// number ("… Call 12 Main St") is not mistaken for one.
var (
	numberAfterRE = regexp.MustCompile(`(?i)^[\s(:#,\-–]*(?:to|number|no\.|nr\.?|dialed|dialled|dialing|tel\.?|phone)(?:[\s(:#]*(?:the|number|no\.|dialed|dialled))*[\s(:#]*(` + numPat + `)\b`)
	numberBareRE  = regexp.MustCompile(`^[\s(:#,\-–]*(` + numPat + `)\s*(?:[).,;:!]|$)`)
)

// numberAfter returns the number following the pattern and the rune
// position after it.
func numberAfter(m *match) (string, int) {
	rest := string(m.runes[m.end:])
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	loc := numberAfterRE.FindStringSubmatchIndex(rest)
	if loc == nil {
		loc = numberBareRE.FindStringSubmatchIndex(rest)
	}
	if loc == nil {
		return "", m.end
	}
	return normNumber(rest[loc[2]:loc[3]]), m.end + utf8.RuneCountInString(rest[:loc[3]])
}

// numberKeywordRE finds a number introduced by a dialling word anywhere.
var numberKeywordRE = regexp.MustCompile(`(?i)\b(?:dialed|dialled|dialing|called|calling|call to|number)[\s:#(]*(` + numPat + `)\b`)

var digitRunRE = regexp.MustCompile(`\+\d(?:[ \-]?\d)*|\d+`)

// numberAnywhere finds a dialled number elsewhere in the text: after a
// dialling word, or any configured number as a whole digit run outside
// the location (an address may contain "911").
func (r *Rules) numberAnywhere(text, location string) string {
	if m := numberKeywordRE.FindStringSubmatch(text); m != nil {
		return normNumber(m[1])
	}
	if location != "" {
		text = strings.Replace(text, location, " ", 1)
	}
	for _, run := range digitRunRE.FindAllString(text, -1) {
		run = normNumber(run)
		for _, n := range r.numbers {
			if run == n.digits || strings.TrimPrefix(run, "+") == strings.TrimPrefix(n.digits, "+") {
				return n.digits
			}
		}
	}
	return ""
}

// locationLabelRE finds a labelled location line ("Location: …"). Labels in
// a few languages; the label must be followed by a colon.
var locationLabelRE = regexp.MustCompile(`(?i)(?:^|[\s.,;])(?:location|address|site|emplacement|adresse|ubicación|ubicacion|dirección|direccion|standort|posizione|indirizzo|localização|endereço|locatie|adres)\s*[:：]\s*`)

// location returns the caller's location text: after a "Location:" label,
// else the words after the pattern (and number) on the same line, else the
// lines that follow.
func location(m *match, after int) string {
	lines := strings.Split(m.text, "\n")
	for i, ln := range lines {
		if loc := locationLabelRE.FindStringIndex(ln); loc != nil {
			s := cleanLocation(ln[loc[1]:])
			if s == "" && i+1 < len(lines) {
				s = cleanLocation(lines[i+1])
			}
			if s != "" {
				return clip(s, maxLocationRunes)
			}
		}
	}
	rest := string(m.runes[after:])
	line, more, _ := strings.Cut(rest, "\n")
	if s := cleanLocation(stripLead(line)); s != "" {
		return clip(s, maxLocationRunes)
	}
	if more != "" {
		return clip(cleanLocation(strings.ReplaceAll(more, "\n", ", ")), maxLocationRunes)
	}
	return ""
}

var leadRE = regexp.MustCompile(`(?i)^[\s.,;:!\-–—()]*(?:(?:from|at|in|located at|location|near)\b[\s:]*)?`)

// stripLead removes connecting words between the pattern and a location.
func stripLead(s string) string {
	if loc := leadRE.FindStringIndex(s); loc != nil {
		return s[loc[1]:]
	}
	return s
}

func cleanLocation(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, ". ")
	s = strings.TrimLeft(s, ".,;:- ")
	return strings.TrimSpace(s)
}
