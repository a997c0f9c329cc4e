package alert

import (
	"encoding/json"
	"time"
)

// Source says how an alert reached the desk.
type Source string

const (
	// SourceLive is a notification consumed from the hub while running.
	SourceLive Source = "live"
	// SourceMissedOffline is an alert found on start-up that happened while
	// the desk was not running (still in the hub or found by back-fill).
	SourceMissedOffline Source = "missed_offline"
	// SourceRecovered is an alert found by back-fill after a subscription
	// gap (removed, expired, re-created).
	SourceRecovered Source = "recovered"
)

// Alert is one recognised emergency call. It is a plain record: the store
// persists every field and `watch` prints it as one JSON line.
type Alert struct {
	// ID is the Teams message id; it deduplicates across restarts and
	// monitoring users.
	ID         string `json:"id"`
	ChatID     string `json:"chatId"`
	ChatType   string `json:"chatType,omitempty"`
	WebURL     string `json:"webUrl,omitempty"`
	CallerName string `json:"callerName"`
	CallerID   string `json:"callerId,omitempty"`
	// Number is the dialled number when the message names one.
	Number string `json:"number,omitempty"`
	// Location is plain text, as written in the message.
	Location string `json:"location,omitempty"`
	// Text is the whole message as plain text (HTML converted, never rendered).
	Text       string    `json:"text"`
	CreatedAt  time.Time `json:"createdAt"`
	ReceivedAt time.Time `json:"receivedAt"`
	IsTest     bool      `json:"isTest"`
	// Importance is Graph's value (normal, high, urgent) as received.
	Importance     string `json:"importance,omitempty"`
	MonitoringUser string `json:"monitoringUser,omitempty"`
	Source         Source `json:"source"`
	// Raw is the chat message JSON as received, kept for the record.
	Raw          json.RawMessage `json:"raw,omitempty"`
	Acknowledged *Ack            `json:"acknowledged,omitempty"`
}

// Ack records who acknowledged an alert, when, and why.
type Ack struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}
