package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"emergencydesk/core/msgraph"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; these f.Add calls add the
// contract examples so a plain `go test` exercises them too.

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(validationRecord))
	f.Add([]byte(changeRecord))
	f.Fuzz(func(t *testing.T, b []byte) {
		nc, err := ParseRecord(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(nc.Value) == 0 {
			t.Fatal("success with no items")
		}
		for _, n := range nc.Value {
			_ = Classify(n).String()
		}
		// What we accepted must survive a round trip.
		out, err := json.Marshal(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRecord(out); err != nil {
			t.Fatalf("re-parse of accepted record: %v", err)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"id":"1","body":{"contentType":"html","content":"<p>x</p>"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err == nil && (m == nil || m.ID == "") {
			t.Fatal("accepted a message without id")
		}
		if err == nil {
			defaultRules().Recognize(m, Meta{})
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	f.Add(`<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>`)
	f.Add(`<script>alert(1)</script><a href="x>">y</a>&nbsp;&amp;`)
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLToText(s)
		checkTidy(t, out)
		// Content of a closed script element never reaches the text.
		if !strings.Contains(strings.ToLower(s), "</script") && strings.Contains(s, "SECRETMARK") == false {
			wrapped := HTMLToText("<p>a</p><script>SECRETMARK" + s + "</script><p>b</p>")
			if strings.Contains(wrapped, "SECRETMARK") || wrapped != "a\nb" {
				t.Fatalf("script content leaked: %q", wrapped)
			}
		}
	})
}

func checkTidy(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8: %q", out)
	}
	for _, ln := range strings.Split(out, "\n") {
		if out != "" && (ln == "" || strings.TrimSpace(ln) != ln || strings.Contains(ln, "  ") || strings.ContainsAny(ln, "\r\t\u00a0")) {
			t.Fatalf("untidy line %q in %q", ln, out)
		}
	}
}

func FuzzRecognize(f *testing.F) {
	f.Add(`<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>`, "high")
	f.Add(`Alex Doe HAS PLACED AN EMERGENCY CALL (933). Location:`, "urgent")
	f.Add(`<div>has placed an Emergency Call</div>`, "normal")
	r := defaultRules()
	f.Fuzz(func(t *testing.T, content, importance string) {
		msg := &msgraph.ChatMessage{ID: "m", ChatID: "c", Importance: importance,
			Body: msgraph.ItemBody{ContentType: "html", Content: content}}
		a, ok := r.Recognize(msg, Meta{})
		text := HTMLToText(content)
		want := strings.Contains(Fold(text), Fold("has placed an Emergency Call"))
		if ok != want {
			t.Fatalf("recognised=%v but pattern in text=%v: %q", ok, want, text)
		}
		if !ok {
			_ = r.Suspicious(msg)
			return
		}
		if a.Text != text {
			t.Fatalf("alert text %q != %q", a.Text, text)
		}
		for _, s := range []string{a.CallerName, a.Location, a.Number} {
			if !utf8.ValidString(s) || strings.Contains(s, "\n") && s != a.Location {
				t.Fatalf("bad field %q", s)
			}
		}
		if utf8.RuneCountInString(a.Location) > maxLocationRunes+1 || utf8.RuneCountInString(a.CallerName) > maxNameRunes+1 {
			t.Fatalf("field over cap")
		}
		if strings.ContainsAny(a.Number, " -") {
			t.Fatalf("number not normalised: %q", a.Number)
		}
		if _, err := json.Marshal(a); err != nil {
			t.Fatal(err)
		}
	})
}
