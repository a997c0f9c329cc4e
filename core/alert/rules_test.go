package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msgraph"
)

func defaultRules() *Rules { return NewRules(config.Default().Alerts) }

func htmlMsg(id, content string) *msgraph.ChatMessage {
	return &msgraph.ChatMessage{
		ID: id, ChatID: "19:abc@thread.v2", MessageType: "message", Importance: "high",
		CreatedDateTime: "2025-03-04T05:06:07.123Z", WebURL: "https://teams.microsoft.com/l/message/19:abc/" + id,
		From: &msgraph.From{User: &msgraph.UserIdentity{ID: "u-1", DisplayName: "Alex Doe"}},
		Body: msgraph.ItemBody{ContentType: "html", Content: content},
	}
}

func TestRecognizeEmulatorMessage(t *testing.T) {
	r := defaultRules()
	msg := htmlMsg("1700000000001", `<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>`)
	recv := time.Date(2025, 3, 4, 5, 6, 8, 0, time.FixedZone("x", 3600))
	a, ok := r.Recognize(msg, Meta{MonitoringUser: "mon-1", ReceivedAt: recv})
	if !ok {
		t.Fatal("not recognised")
	}
	want := Alert{
		ID: "1700000000001", ChatID: "19:abc@thread.v2", WebURL: msg.WebURL,
		CallerName: "Alex Doe", CallerID: "u-1", Number: "911", Location: "1 Main St, Springfield",
		Text:      "Alex Doe has placed an Emergency Call to 911.\nLocation: 1 Main St, Springfield",
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 123e6, time.UTC), ReceivedAt: recv.UTC(),
		Importance: "high", MonitoringUser: "mon-1", Source: SourceLive,
	}
	raw := a.Raw
	a.Raw = nil
	if !equalAlert(a, want) {
		t.Fatalf("got  %+v\nwant %+v", a, want)
	}
	var back msgraph.ChatMessage
	if err := json.Unmarshal(raw, &back); err != nil || back.ID != msg.ID {
		t.Fatalf("raw message not kept: %v %s", err, raw)
	}
	if !r.IsEmergencyChat(msg.ChatID) {
		t.Fatal("chat not remembered")
	}
}

func equalAlert(a, b Alert) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestRecognizeWordings(t *testing.T) {
	cfg := config.Default().Alerts
	cfg.Numbers = append(cfg.Numbers, config.Number{Number: "112"}, config.Number{Number: "+44 999"})
	cfg.Patterns = append(cfg.Patterns, "a passé un appel d’urgence", "hat einen Notruf getätigt", "ha realizado una llamada de emergencia")
	r := NewRules(cfg)
	cases := []struct {
		name, ctype, content string
		fromUser             bool
		caller, number, loc  string
		test                 bool
	}{
		{"emulator", "html", `<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>`, true, "Alex Doe", "911", "1 Main St, Springfield", false},
		{"test number", "html", `<p><strong>Alex Doe</strong> has placed an Emergency Call to 933.</p><p>Location: 1 Main St, Springfield</p>`, true, "Alex Doe", "933", "1 Main St, Springfield", true},
		{"upper case", "html", `ALEX DOE HAS PLACED AN EMERGENCY CALL TO 911`, true, "Alex Doe", "911", "", false},
		{"lower case no number", "text", `alex doe has placed an emergency call. location: lobby`, false, "alex doe", "", "lobby", false},
		{"nbsp and breaks", "html", `<div>Alex&nbsp;Doe has&nbsp;placed an<br/>Emergency&#160;&#x20;Call</div><div>Location:&nbsp;Building 4,&nbsp;Floor 2</div>`, false, "Alex Doe", "", "Building 4, Floor 2", false},
		{"unicode nbsp literal", "html", "Alex Doe has\u00a0placed an Emergency\u202fCall to 911", true, "Alex Doe", "911", "", false},
		{"words after pattern", "html", `<p>Alex Doe has placed an Emergency Call from Building 7, Room 12</p>`, false, "Alex Doe", "", "Building 7, Room 12", false},
		{"number then location", "text", "Alex Doe has placed an Emergency Call to 911 from 12 Elm Road", true, "Alex Doe", "911", "12 Elm Road", false},
		{"house number not a dialled number", "text", "Alex Doe has placed an Emergency Call 12 Main St", true, "Alex Doe", "", "12 Main St", false},
		{"bare number in parens", "text", "Alex Doe has placed an Emergency Call (933).", true, "Alex Doe", "933", "", true},
		{"address contains 911", "text", "Alex Doe has placed an Emergency Call.\nLocation: 911 Elm St", true, "Alex Doe", "", "911 Elm St", false},
		{"dialed keyword elsewhere", "html", `<p>Alex Doe has placed an Emergency Call</p><p>Number dialed: 112</p><p>Address: 5 Rue X</p>`, true, "Alex Doe", "112", "5 Rue X", false},
		{"configured number elsewhere", "html", `<p>Alex Doe has placed an Emergency Call</p><p>Location: Lobby</p><p>Line: +44 999</p>`, true, "Alex Doe", "+44999", "Lobby", false},
		{"international dialled", "text", "Alex Doe has placed an Emergency Call to +44 999 from Lobby", true, "Alex Doe", "+44999", "Lobby", false},
		{"location on next line", "html", `<p>Alex Doe has placed an Emergency Call to 911.</p><p>Location:</p><p>HQ, 3rd floor</p>`, true, "Alex Doe", "911", "HQ, 3rd floor", false},
		{"french", "html", `<p>Alex Doe a passé un appel d'urgence au 112.</p><p>Emplacement : 1 rue de Paris</p>`, true, "Alex Doe", "112", "1 rue de Paris", false},
		{"german", "text", "Alex Doe hat einen Notruf getätigt. Standort: Hauptstraße 1", true, "Alex Doe", "", "Hauptstraße 1", false},
		{"spanish", "text", "Alex Doe HA REALIZADO UNA LLAMADA DE EMERGENCIA. Ubicación: Calle 5", true, "Alex Doe", "", "Calle 5", false},
		{"entities in name", "html", `<p>O&#39;Brien &amp; Co has placed an Emergency Call</p>`, false, "O'Brien & Co", "", "", false},
		{"sentence before name", "text", "URGENT! Jo Bloggs has placed an Emergency Call", false, "Jo Bloggs", "", "", false},
		{"zero width chars", "html", "Alex Doe has pl\u200bac\u200ded an Emergency Call to 911", true, "Alex Doe", "911", "", false},
		{"line break in pattern", "html", "<p>Alex Doe has placed</p>\n<p>an Emergency Call</p>", true, "Alex Doe", "", "", false},
		{"extra spaces", "html", "Alex   Doe   has    placed   an   Emergency \t\r\n Call", true, "Alex Doe", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := htmlMsg("m1", c.content)
			msg.Body.ContentType = c.ctype
			if !c.fromUser {
				msg.From = &msgraph.From{Application: &msgraph.Identity{ID: "app", DisplayName: "Bot"}}
			}
			a, ok := r.Recognize(msg, Meta{})
			if !ok {
				t.Fatalf("not recognised: %q", c.content)
			}
			if a.CallerName != c.caller || a.Number != c.number || a.Location != c.loc || a.IsTest != c.test {
				t.Fatalf("caller %q number %q location %q test %v; want %q %q %q %v\ntext: %q",
					a.CallerName, a.Number, a.Location, a.IsTest, c.caller, c.number, c.loc, c.test, a.Text)
			}
			if a.Source != SourceLive || a.ReceivedAt.IsZero() || a.Raw == nil {
				t.Fatalf("defaults not applied: %+v", a)
			}
		})
	}
}

func TestNotRecognized(t *testing.T) {
	r := defaultRules()
	for _, content := range []string{
		"",
		"<p>Lunch at 12?</p>",
		"<p>has placed an</p>",
		"Alex Doe has placed an Emergency",
		"<script>x='has placed an Emergency Call'</script><p>hello</p>",
		"<style>/* has placed an Emergency Call */</style>",
		"<!-- has placed an Emergency Call -->",
		`<img alt="has placed an Emergency Call">`,
		`<a title="has placed an Emergency Call">link</a>`,
	} {
		if a, ok := r.Recognize(htmlMsg("x", content), Meta{}); ok {
			t.Errorf("recognised %q: %+v", content, a)
		}
	}
	deleted := "2025-01-01T00:00:00Z"
	m := htmlMsg("d", "Alex Doe has placed an Emergency Call")
	m.DeletedDateTime = &deleted
	if _, ok := r.Recognize(m, Meta{}); ok {
		t.Error("deleted message recognised")
	}
	if _, ok := r.Recognize(nil, Meta{}); ok {
		t.Error("nil message recognised")
	}
}

func TestImportanceRecordedNotRequired(t *testing.T) {
	r := defaultRules()
	for _, imp := range []string{"normal", "high", "urgent", ""} {
		m := htmlMsg("i", "Alex Doe has placed an Emergency Call")
		m.Importance = imp
		a, ok := r.Recognize(m, Meta{})
		if !ok || a.Importance != imp {
			t.Fatalf("importance %q: ok=%v got %q", imp, ok, a.Importance)
		}
	}
}

func TestScriptInjectionIsPlainText(t *testing.T) {
	r := defaultRules()
	m := htmlMsg("s", `<p><b onclick="alert(1)">Eve</b> has placed an Emergency Call to 911.<script>alert("pwned")</script></p>`+
		`<p>Location: <img src=x onerror="alert(2)">Lobby<style>body{display:none}</style> &lt;script&gt;</p><SCRIPT type="text/javascript">steal()</SCRIPT >`)
	a, ok := r.Recognize(m, Meta{})
	if !ok {
		t.Fatal("not recognised")
	}
	for _, bad := range []string{"pwned", "alert(", "steal", "display:none", "onerror", "<img", "<b"} {
		if strings.Contains(a.Text, bad) || strings.Contains(a.Location, bad) {
			t.Fatalf("%q leaked into text %q / location %q", bad, a.Text, a.Location)
		}
	}
	// An escaped tag is text, shown literally, never markup.
	if a.Location != "Lobby <script>" {
		t.Fatalf("location %q", a.Location)
	}
}

func TestFallbacks(t *testing.T) {
	r := defaultRules()
	m := htmlMsg("f", "Alex Doe has placed an Emergency Call")
	m.ChatID = ""
	m.CreatedDateTime = "not a time"
	m.From = &msgraph.From{User: &msgraph.UserIdentity{ID: "u-9"}}
	raw := json.RawMessage(`{"id":"f"}`)
	a, ok := r.Recognize(m, Meta{ChatID: "19:from-resource", Source: SourceRecovered, Raw: raw, ChatType: "group"})
	if !ok || a.ChatID != "19:from-resource" || a.CallerName != "Alex Doe" || a.CallerID != "u-9" ||
		a.Source != SourceRecovered || string(a.Raw) != string(raw) || !a.CreatedAt.IsZero() || a.ChatType != "group" {
		t.Fatalf("%+v", a)
	}
}

func TestSubjectAndCard(t *testing.T) {
	r := defaultRules()
	subj := "Alex Doe has placed an Emergency Call"
	m := htmlMsg("sub", "<p>see above</p>")
	m.Subject = &subj
	if !r.Matches(m) {
		t.Fatal("subject not searched")
	}
	card := `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Alex Doe has placed an Emergency Call to 911"},{"type":"FactSet","facts":[{"title":"Location:","value":"Lobby"}]}]}`
	m = htmlMsg("card", `<attachment id="a1"></attachment>`)
	m.Attachments = []msgraph.Attachment{{ID: "a1", ContentType: "application/vnd.microsoft.card.adaptive", Content: &card}}
	a, ok := r.Recognize(m, Meta{})
	if !ok || a.Number != "911" {
		t.Fatalf("card: ok=%v %+v", ok, a)
	}
}

func TestSuspicious(t *testing.T) {
	r := defaultRules()
	other := htmlMsg("o1", "<p>Caller is on the way</p>")
	if r.Suspicious(other) {
		t.Fatal("suspicious before any emergency in the chat")
	}
	if _, ok := r.Recognize(htmlMsg("e1", "Alex Doe has placed an Emergency Call"), Meta{}); !ok {
		t.Fatal("not recognised")
	}
	if !r.Suspicious(other) {
		t.Fatal("high-importance unrecognised message in emergency chat not flagged")
	}
	other.Importance = "normal"
	if r.Suspicious(other) {
		t.Fatal("normal importance flagged")
	}
	other.Importance = "urgent"
	other.ChatID = "19:elsewhere"
	if r.Suspicious(other) {
		t.Fatal("other chat flagged")
	}
	if r.Suspicious(htmlMsg("e2", "Bo has placed an Emergency Call")) {
		t.Fatal("recognised message flagged")
	}
	if r.Suspicious(nil) {
		t.Fatal("nil flagged")
	}
}

func TestTrackedChatsBounded(t *testing.T) {
	r := defaultRules()
	base := time.Unix(0, 0)
	n := 0
	r.now = func() time.Time { n++; return base.Add(time.Duration(n) * time.Second) }
	for i := 0; i < maxTrackedChats+10; i++ {
		r.NoteEmergencyChat(strings.Repeat("c", 1) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if len(r.chats) != maxTrackedChats {
		t.Fatalf("%d chats tracked", len(r.chats))
	}
	if r.IsEmergencyChat("ca0s") {
		t.Fatal("oldest chat not evicted")
	}
}

func TestBlankPatternsFallBackToDefault(t *testing.T) {
	r := NewRules(config.Alerts{Patterns: []string{"", "   "}})
	if !r.Matches(htmlMsg("b", "X has placed an Emergency Call")) {
		t.Fatal("default pattern not used")
	}
}
