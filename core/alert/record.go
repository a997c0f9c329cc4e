package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"emergencydesk/core/msgraph"
)

// MaxRecordBytes caps a record body. Event Hubs refuses events over 1 MB
// (Premium/Dedicated allow more, but Graph moves payloads over 1 MB out of
// the hub), so anything past 2 MiB is not a Graph notification.
const MaxRecordBytes = 2 << 20

// MaxMessageBytes caps a chat message JSON (decrypted or fetched).
const MaxMessageBytes = 4 << 20

// Errors returned by ParseRecord and ParseMessage; test with errors.Is.
var (
	ErrEmpty    = errors.New("empty")
	ErrTooLarge = errors.New("too large")
	ErrNotJSON  = errors.New("not JSON")
	ErrShape    = errors.New("unexpected JSON shape")
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseRecord parses one Event Hub record body: a Graph notification
// collection {"value":[…]} holding one or more items.
func ParseRecord(value []byte) (msgraph.NotificationCollection, error) {
	var nc msgraph.NotificationCollection
	body, err := prepare("notification record", value, MaxRecordBytes)
	if err != nil {
		return nc, err
	}
	// Check the top-level shape first so the error can say which part is wrong.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nc, fmt.Errorf("notification record: %w: top level must be an object {\"value\":[…]}: %v", ErrShape, err)
	}
	raw, ok := top["value"]
	if !ok {
		return nc, fmt.Errorf("notification record: %w: no \"value\" array (is this a Graph change notification?)", ErrShape)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nc, fmt.Errorf("notification record: %w: \"value\" must be an array of notifications", ErrShape)
	}
	if len(items) == 0 {
		return nc, fmt.Errorf("notification record: %w: \"value\" holds no notifications", ErrEmpty)
	}
	nc.Value = make([]msgraph.ChangeNotification, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &nc.Value[i]); err != nil {
			return msgraph.NotificationCollection{}, fmt.Errorf("notification record: %w: item %d: %v", ErrShape, i, err)
		}
	}
	if vt, ok := top["validationTokens"]; ok {
		if err := json.Unmarshal(vt, &nc.ValidationTokens); err != nil {
			return msgraph.NotificationCollection{}, fmt.Errorf("notification record: %w: \"validationTokens\" must be an array of strings", ErrShape)
		}
	}
	return nc, nil
}

// ParseMessage parses a chat message JSON (decrypted resource data or a
// Graph fetch). It requires an id, the one field everything keys on.
func ParseMessage(data []byte) (*msgraph.ChatMessage, error) {
	body, err := prepare("chat message", data, MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("chat message: %w: must be a JSON object", ErrShape)
	}
	var m msgraph.ChatMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("chat message: %w: %v", ErrShape, err)
	}
	if m.ID == "" {
		return nil, fmt.Errorf("chat message: %w: no \"id\"", ErrShape)
	}
	return &m, nil
}

// prepare applies the checks shared by both parsers and returns the body
// without a BOM or surrounding whitespace.
func prepare(what string, b []byte, max int) ([]byte, error) {
	if len(b) > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit %d", what, ErrTooLarge, len(b), max)
	}
	b = bytes.TrimSpace(bytes.TrimPrefix(b, utf8BOM))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %w body", what, ErrEmpty)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%s: %w: body is not valid UTF-8", what, ErrNotJSON)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s: %w: body starts %q", what, ErrNotJSON, preview(b))
	}
	return b, nil
}

// preview is a short printable start of a body for error messages. Record
// bodies are notifications, not secrets; still, keep it to a few bytes.
func preview(b []byte) string {
	const n = 24
	if len(b) > n {
		b = b[:n]
	}
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// Kind classifies a notification item.
type Kind int

const (
	// KindUnknown is neither a change nor a lifecycle event: log it.
	KindUnknown Kind = iota
	// KindValidation is the hub reachability record: ignore it.
	KindValidation
	// KindLifecycle goes to the subscription manager (core/graph).
	KindLifecycle
	// KindChange is a chat message change: decrypt or fetch, then recognise.
	KindChange
)

func (k Kind) String() string {
	switch k {
	case KindValidation:
		return "validation"
	case KindLifecycle:
		return "lifecycle"
	case KindChange:
		return "change"
	}
	return "unknown"
}

// Classify says what a notification item is.
func Classify(n msgraph.ChangeNotification) Kind {
	switch {
	case n.IsValidation():
		return KindValidation
	case n.IsLifecycle():
		return KindLifecycle
	case n.ChangeType != "":
		return KindChange
	}
	return KindUnknown
}

// IsValidation reports whether n is the reachability record to ignore.
func IsValidation(n msgraph.ChangeNotification) bool { return Classify(n) == KindValidation }

// IsLifecycle reports whether n is a lifecycle event.
func IsLifecycle(n msgraph.ChangeNotification) bool { return Classify(n) == KindLifecycle }

// IsChange reports whether n is a resource change.
func IsChange(n msgraph.ChangeNotification) bool { return Classify(n) == KindChange }
