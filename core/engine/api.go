package engine

import (
	"context"
	"io"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/config"
	"emergencydesk/core/health"
)

// Event is something a front end shows. Events are delivered to every
// subscriber in order; alert events are never dropped.
type Event interface{ isEvent() }

// AlertRaised: a new emergency-call alert, already durable in the log.
type AlertRaised struct{ Alert alert.Alert }

// AlertAcknowledged: someone acknowledged an alert (here or via the log).
type AlertAcknowledged struct {
	ID  string
	Ack alert.Ack
}

// HealthChanged: the overall chain health changed.
type HealthChanged struct{ Health health.Overall }

// DeviceCodeNeeded: show this code to whoever signs the monitoring user in.
type DeviceCodeNeeded struct{ Prompt DeviceCode }

// SignInFinished: a device-code sign-in ended (Err nil on success).
type SignInFinished struct {
	User MonitoringUser
	Err  error
	// Fix is the plain-words remedy when Err is set.
	Fix string
}

// SettingsChanged: settings were saved (by this front end or a script).
type SettingsChanged struct{ Config config.Config }

// UsersChanged: the monitoring users or their token/subscription state changed.
type UsersChanged struct{ Users []MonitoringUser }

func (AlertRaised) isEvent()       {}
func (AlertAcknowledged) isEvent() {}
func (HealthChanged) isEvent()     {}
func (DeviceCodeNeeded) isEvent()  {}
func (SignInFinished) isEvent()    {}
func (SettingsChanged) isEvent()   {}
func (UsersChanged) isEvent()      {}

// DeviceCode is what the device-code dialog shows.
type DeviceCode struct {
	UserCode        string
	VerificationURL string
	ExpiresAt       time.Time
	Message         string // Microsoft's own instruction text
}

// MonitoringUser is a signed-in monitoring user with its health.
type MonitoringUser struct {
	ID          string // the account's key (MSAL home account id: <object id>.<tenant id>)
	ObjectID    string // Entra object id
	DisplayName string
	UPN         string
	Token       health.Component
	// Subscription is the Graph subscription's state.
	Subscription health.Component
}

// Filter selects alerts from the log.
type Filter int

// Filters for Alerts.
const (
	FilterAll Filter = iota
	FilterUnacknowledged
	FilterTest
)

// Desk is what a front end (GUI or headless) may ask of the engine. The UI
// talks only to this.
type Desk interface {
	// Subscribe returns a channel of events and a cancel func. The channel
	// is fed from an unbounded queue so a slow front end never blocks the
	// engine and never loses an alert.
	Subscribe() (<-chan Event, func())
	Config() config.Config
	// SaveSettings validates and saves settings and the given secrets
	// (names from core/secrets; empty value = unchanged), then applies them
	// without a restart. Validation errors come back as Problems and
	// nothing is saved.
	SaveSettings(ctx context.Context, c config.Config, secrets map[string]string) (config.Problems, error)
	// HasSecret says whether a secret is stored (values never leave the vault
	// except to the part that uses them).
	HasSecret(name string) bool
	Health() health.Overall
	Users() []MonitoringUser
	// AddMonitoringUser starts a device-code sign-in; progress arrives as
	// DeviceCodeNeeded then SignInFinished.
	AddMonitoringUser(ctx context.Context) error
	Reauthenticate(ctx context.Context, userID string) error
	CancelSignIn()
	RemoveMonitoringUser(ctx context.Context, userID string) error
	Acknowledge(ctx context.Context, alertID, by, comment string) error
	Alerts(ctx context.Context, f Filter, limit int) ([]alert.Alert, error)
	ExportCSV(ctx context.Context, w io.Writer, f Filter) error
	Resubscribe(ctx context.Context) error
	// GroupID describes how this desk reads the hub (shown in settings).
	GroupID() string
	// Diagnose runs the integration test ("Test integration").
	Diagnose(ctx context.Context) (Report, error)
	// SimulateCall posts a call through the emulated Teams (demo mode only;
	// an error otherwise).
	SimulateCall(ctx context.Context, number string) error
	DemoMode() bool
}

// Report is a diagnostics run, as shown on the Diagnostics page.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNs"`
	Checks   []Check       `json:"checks"`
}

// Check is one diagnostic check.
type Check struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Status   string        `json:"status"` // pass, warn, fail, skip
	Detail   string        `json:"detail"`
	Fix      string        `json:"fix,omitempty"`
	Duration time.Duration `json:"durationNs"`
}
