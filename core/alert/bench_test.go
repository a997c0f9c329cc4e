package alert

import (
	"testing"
)

// BenchmarkRecognize is the per-message cost the pipeline adds to alert
// latency (HTML to text, matching, extraction).
func BenchmarkRecognize(b *testing.B) {
	r := defaultRules()
	msg := htmlMsg("1", `<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := r.Recognize(msg, Meta{Raw: []byte(`{}`)}); !ok {
			b.Fatal("not recognised")
		}
	}
}

func BenchmarkParseRecord(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseRecord([]byte(changeRecord)); err != nil {
			b.Fatal(err)
		}
	}
}
