package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msgraph"
)

// BenchmarkRichDecrypt measures decrypt-and-parse of one rich notification
// against the bare RSA-OAEP (3072-bit) unwrap it is bounded by, in the same
// run; "pct-of-bound" is decrypt-and-parse throughput as a percentage of
// the bound (target ≥ 80).
func BenchmarkRichDecrypt(b *testing.B) {
	k, err := newEncKey(time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	content := "<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>"
	m := msgraph.ChatMessage{ID: "1700000000000", ChatID: "19:abc@thread.v2", MessageType: "message", Importance: "high",
		CreatedDateTime: "2026-03-01T09:00:00.000Z", From: &msgraph.From{User: &msgraph.UserIdentity{ID: alex.ID, DisplayName: alex.DisplayName}},
		Body: msgraph.ItemBody{ContentType: "html", Content: content}, Attachments: []msgraph.Attachment{}, Mentions: []msgraph.Mention{}}
	plain, _ := json.Marshal(m)
	ec, err := graphemu.Encrypt(plain, &k.key.PublicKey, k.id, k.thumbprint)
	if err != nil {
		b.Fatal(err)
	}
	wrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &k.key.PublicKey, make([]byte, 32), nil)
	var boundNs float64
	b.Run("rsa-oaep-bound", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.DecryptOAEP(sha1.New(), nil, k.key, wrapped, nil); err != nil {
				b.Fatal(err)
			}
		}
		boundNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/boundNs, "ops/s/core")
	})
	b.Run("decrypt-and-parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := decryptWith(k.key, ec); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/ns, "ops/s/core")
		if boundNs > 0 {
			b.ReportMetric(100*boundNs/ns, "pct-of-bound")
		}
	})
}

// BenchmarkFetchMessage measures one GET /chats/{id}/messages/{id} round
// trip (TLS keep-alive, JSON parse) against the emulator.
func BenchmarkFetchMessage(b *testing.B) {
	e := newEnv(b, true)
	c := e.client(b, e.options(false))
	ctx := context.Background()
	chat := e.emu.ChatWith(desk, sam)
	id, err := e.emu.PostMessage(ctx, chat, sam, "hello", graphemu.MessageOptions{})
	if err != nil {
		b.Fatal(err)
	}
	e.emu.SetChatReadInterval(0)
	path := "/chats/" + chat + "/messages/" + id
	for b.Loop() {
		var m msgraph.ChatMessage
		if err := c.request(ctx, "fetch", http.MethodGet, path, nil, &m); err != nil || m.ID != id {
			b.Fatal(err)
		}
	}
}
