// Package fakedesk is an in-memory engine.Desk for the UI's widget tests
// and screenshots: it records the commands it is given.
package fakedesk

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/config"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
)

// Ack is a recorded Acknowledge call.
type Ack struct{ ID, By, Comment string }

// Desk is a fake engine.Desk.
type Desk struct {
	mu         sync.Mutex
	Cfg        config.Config
	Secrets    map[string]bool
	HealthNow  health.Overall
	UserList   []engine.MonitoringUser
	Log        []alert.Alert // newest first
	Acks       []Ack
	Saved      []config.Config
	SavedSecs  []map[string]string
	SaveResult config.Problems
	Report     engine.Report
	Demo       bool
	Added      int
	Reauthed   []string
	Removed    []string
	Cancelled  int
	Simulated  []string
	Diagnosed  int
	Events     chan engine.Event
}

// New returns a desk with default settings and no users.
func New() *Desk {
	return &Desk{Cfg: config.Default(), Secrets: map[string]bool{}, Events: make(chan engine.Event, 64),
		HealthNow: health.Combine(nil)}
}

func (d *Desk) Subscribe() (<-chan engine.Event, func()) {
	var once sync.Once
	return d.Events, func() { once.Do(func() {}) }
}
func (d *Desk) Config() config.Config { d.mu.Lock(); defer d.mu.Unlock(); return d.Cfg.Clone() }
func (d *Desk) SaveSettings(_ context.Context, c config.Config, s map[string]string) (config.Problems, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Saved = append(d.Saved, c)
	d.SavedSecs = append(d.SavedSecs, s)
	if len(d.SaveResult.Errors()) > 0 {
		return d.SaveResult, nil
	}
	d.Cfg = c
	for k := range s {
		d.Secrets[k] = true
	}
	return d.SaveResult, nil
}
func (d *Desk) HasSecret(name string) bool { d.mu.Lock(); defer d.mu.Unlock(); return d.Secrets[name] }
func (d *Desk) Health() health.Overall     { return d.HealthNow }
func (d *Desk) Users() []engine.MonitoringUser {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.UserList)
}
func (d *Desk) AddMonitoringUser(context.Context) error {
	d.mu.Lock()
	d.Added++
	d.mu.Unlock()
	return nil
}
func (d *Desk) Reauthenticate(_ context.Context, id string) error {
	d.mu.Lock()
	d.Reauthed = append(d.Reauthed, id)
	d.mu.Unlock()
	return nil
}
func (d *Desk) CancelSignIn() { d.mu.Lock(); d.Cancelled++; d.mu.Unlock() }
func (d *Desk) RemoveMonitoringUser(_ context.Context, id string) error {
	d.mu.Lock()
	d.Removed = append(d.Removed, id)
	d.mu.Unlock()
	return nil
}
func (d *Desk) Acknowledge(_ context.Context, id, by, comment string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.Log {
		if d.Log[i].ID == id {
			d.Log[i].Acknowledged = &alert.Ack{By: by, At: time.Now(), Comment: comment}
			d.Acks = append(d.Acks, Ack{id, by, comment})
			return nil
		}
	}
	return errors.New("no such alert " + id)
}
func (d *Desk) Alerts(_ context.Context, f engine.Filter, limit int) ([]alert.Alert, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []alert.Alert
	for _, a := range d.Log {
		if (f == engine.FilterUnacknowledged && a.Acknowledged != nil) || (f == engine.FilterTest && !a.IsTest) {
			continue
		}
		out = append(out, a)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
func (d *Desk) ExportCSV(_ context.Context, w io.Writer, f engine.Filter) error {
	as, _ := d.Alerts(context.Background(), f, 1<<30)
	for _, a := range as {
		io.WriteString(w, a.ID+","+a.CallerName+"\n")
	}
	return nil
}
func (d *Desk) Resubscribe(context.Context) error { return nil }
func (d *Desk) GroupID() string                   { return "emergencydesk-" + d.Cfg.WorkstationID }
func (d *Desk) Diagnose(context.Context) (engine.Report, error) {
	d.mu.Lock()
	d.Diagnosed++
	d.mu.Unlock()
	return d.Report, nil
}
func (d *Desk) SimulateCall(_ context.Context, n string) error {
	d.mu.Lock()
	d.Simulated = append(d.Simulated, n)
	d.mu.Unlock()
	return nil
}
func (d *Desk) DemoMode() bool { return d.Demo }

// Raise logs a and returns the event the engine would publish.
func (d *Desk) Raise(a alert.Alert) engine.AlertRaised {
	d.mu.Lock()
	d.Log = append([]alert.Alert{a}, d.Log...)
	d.mu.Unlock()
	return engine.AlertRaised{Alert: a}
}

var _ engine.Desk = (*Desk)(nil)
