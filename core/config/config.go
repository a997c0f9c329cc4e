package config

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
)

// SchemaVersion is the version of the settings file this build writes.
const SchemaVersion = 1

// DeliveryEventHub is the only delivery mode today.
const DeliveryEventHub = "eventhub"

// Guide defaults and Graph limits.
const (
	DefaultRefreshTokenExpirationMinutes = 2196
	DefaultSubscriptionTimeoutMinutes    = 4320
	MaxSubscriptionTimeoutMinutes        = 4320 // Graph's cap for Teams chatMessage
	DefaultEventHubName                  = "teams-events"
	DefaultConsumerGroup                 = "$Default"
	DefaultPartitionCount                = 2
	DefaultMissedWindowMinutes           = 60
	DefaultPattern                       = "has placed an Emergency Call"
)

// Scopes are the guide's seven delegated permissions, in the guide's order.
var Scopes = []string{"User.Read", "Chat.Read", "Chat.ReadBasic", "ChatMessage.Read", "openid", "offline_access", "profile"}

// ScopeNeeds says what breaks when a scope is unchecked.
var ScopeNeeds = map[string]string{
	"User.Read":        "the monitoring user's profile (/me) cannot be read, so sign-in cannot finish",
	"Chat.Read":        "the Graph subscription on the user's chats cannot be created and messages cannot be read: no alerts",
	"Chat.ReadBasic":   "chat names and members cannot be read for back-fill after an outage",
	"ChatMessage.Read": "individual chat messages cannot be fetched when a notification carries no resource data",
	"openid":           "sign-in returns no ID token, so the account cannot be identified",
	"offline_access":   "no refresh token is issued: the sign-in lapses within about an hour and alerts stop",
	"profile":          "the user's name is not shown in Teams Integration",
}

// Config is every setting the app has, except secrets.
type Config struct {
	SchemaVersion int          `json:"schemaVersion"`
	OAuth         OAuth        `json:"oauth"`
	Subscription  Subscription `json:"subscription"`
	EventHub      EventHub     `json:"eventHub"`
	Permissions   Permissions  `json:"permissions"`
	Cloud         Cloud        `json:"cloud"`
	Alerts        Alerts       `json:"alerts"`
	// WorkstationID is stable per desk; it names this desk to the hub.
	WorkstationID string `json:"workstationId"`
	// Users are the signed-in monitoring users (no tokens: those are in the vault).
	Users []User `json:"users,omitempty"`
}

// OAuth is the guide's OAuth Settings tab (the client secret is in the vault).
type OAuth struct {
	ClientID                      string `json:"clientId"`
	TenantID                      string `json:"tenantId"`
	RefreshTokenExpirationMinutes int    `json:"refreshTokenExpirationMinutes"`
}

// Subscription is the guide's Subscription Settings tab.
type Subscription struct {
	DeliveryMode   string `json:"deliveryMode"`
	TimeoutMinutes int    `json:"timeoutMinutes"`
	// RichNotifications asks Graph to include encrypted resource data.
	RichNotifications bool `json:"richNotifications"`
}

// EventHub is the guide's Event Hub tab (the connection string is in the vault).
type EventHub struct {
	Enabled        bool   `json:"enabled"`
	Name           string `json:"name"`
	ConsumerGroup  string `json:"consumerGroup"`
	PartitionCount int    `json:"partitionCount"`
	// MissedWindowMinutes is how far back a new desk reports alerts as
	// "missed while offline" on its first start.
	MissedWindowMinutes int `json:"missedWindowMinutes"`
}

// Permissions is the guide's Permissions tab: scope name → checked.
type Permissions struct {
	Scopes map[string]bool `json:"scopes"`
}

// Cloud selects the national cloud and optional endpoint overrides.
type Cloud struct {
	Profile string `json:"profile"`
	// AuthorityHost overrides the login host, e.g. https://login.example:8443
	AuthorityURL string `json:"authorityUrl,omitempty"`
	// GraphURL overrides the Graph base, e.g. https://graph.example (no /v1.0).
	GraphURL string `json:"graphUrl,omitempty"`
	// KafkaBootstrap overrides host:port dialled for Kafka; TLS still
	// verifies the namespace host name from the connection string.
	KafkaBootstrap string `json:"kafkaBootstrap,omitempty"`
	// ExtraCABundle is a PEM file trusted in addition to the system roots.
	ExtraCABundle string `json:"extraCaBundle,omitempty"`
}

// Alerts configures recognition and the alarm.
type Alerts struct {
	Numbers       []Number `json:"numbers"`
	Patterns      []string `json:"patterns"`
	Sound         bool     `json:"sound"`
	RetentionDays int      `json:"retentionDays"` // 0 keeps forever
}

// Number is an emergency number to watch.
type Number struct {
	Number string `json:"number"`
	Test   bool   `json:"test"`
}

// User is a monitoring user's identity as stored in settings.
type User struct {
	HomeAccountID string `json:"homeAccountId"`
	ObjectID      string `json:"objectId"`
	UPN           string `json:"upn"`
	DisplayName   string `json:"displayName"`
	AddedAt       string `json:"addedAt,omitempty"`
}

// Default returns the guide's defaults with a fresh workstation ID.
func Default() Config {
	c := Config{
		SchemaVersion: SchemaVersion,
		OAuth:         OAuth{RefreshTokenExpirationMinutes: DefaultRefreshTokenExpirationMinutes},
		Subscription:  Subscription{DeliveryMode: DeliveryEventHub, TimeoutMinutes: DefaultSubscriptionTimeoutMinutes, RichNotifications: true},
		EventHub: EventHub{Enabled: true, Name: DefaultEventHubName, ConsumerGroup: DefaultConsumerGroup,
			PartitionCount: DefaultPartitionCount, MissedWindowMinutes: DefaultMissedWindowMinutes},
		Permissions: Permissions{Scopes: map[string]bool{}},
		Cloud:       Cloud{Profile: CloudGlobal},
		Alerts: Alerts{
			Numbers:  []Number{{Number: "911"}, {Number: "933", Test: true}},
			Patterns: []string{DefaultPattern},
			Sound:    true,
		},
		WorkstationID: NewWorkstationID(),
	}
	for _, s := range Scopes {
		c.Permissions.Scopes[s] = true
	}
	return c
}

// NewWorkstationID returns a random stable-per-install identifier.
func NewWorkstationID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "desk-" + hex.EncodeToString(b)
}

// EnabledScopes returns the checked scopes in the guide's order, then any
// extra ones sorted.
func (c Config) EnabledScopes() []string {
	var out []string
	for _, s := range Scopes {
		if c.Permissions.Scopes[s] {
			out = append(out, s)
		}
	}
	var extra []string
	for s, on := range c.Permissions.Scopes {
		if on && !slices.Contains(Scopes, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// GraphScopes are the enabled scopes MSAL should request for Graph; MSAL
// adds openid, profile and offline_access itself and refuses them in the
// resource scope list.
func (c Config) GraphScopes() []string {
	var out []string
	for _, s := range c.EnabledScopes() {
		switch strings.ToLower(s) {
		case "openid", "profile", "offline_access":
		default:
			out = append(out, s)
		}
	}
	return out
}

// TestNumber reports whether number is configured as a test number.
func (c Config) TestNumber(number string) bool {
	for _, n := range c.Alerts.Numbers {
		if n.Number == number {
			return n.Test
		}
	}
	return false
}

// Clone returns a deep copy.
func (c Config) Clone() Config {
	d := c
	d.Permissions.Scopes = make(map[string]bool, len(c.Permissions.Scopes))
	for k, v := range c.Permissions.Scopes {
		d.Permissions.Scopes[k] = v
	}
	d.Alerts.Numbers = slices.Clone(c.Alerts.Numbers)
	d.Alerts.Patterns = slices.Clone(c.Alerts.Patterns)
	d.Users = slices.Clone(c.Users)
	return d
}
