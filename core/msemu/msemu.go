// Package msemu runs the Microsoft emulator: Entra ID, Graph, Teams and an
// Event Hubs Kafka endpoint in one process, all on loopback, sharing one
// private CA and one token signer. Tests and demo mode point the real
// client code at it through ordinary settings (endpoint overrides and the
// extra CA bundle), so no code path exists only for the emulator.
package msemu

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/emutoken"
	"emergencydesk/core/msemu/entra"
	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msemu/hub"
)

// Options configure Start. Zero values give realistic defaults.
type Options struct {
	TenantDomain string        // default emulator.onmicrosoft.com
	HubName      string        // default teams-events
	Partitions   int           // default 2
	Basic        bool          // Basic-tier namespace (no Kafka endpoint)
	AccessToken  time.Duration // access-token lifetime; default 1 h
	DeviceCode   time.Duration // device-code lifetime; default 900 s
	// PollInterval is the device-code interval sent to clients (default 5 s).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Person is someone in the emulated tenant.
type Person = graphemu.User

// Emulator is a running emulator.
type Emulator struct {
	CA    *emuca.CA
	Entra *entra.Server
	Graph *graphemu.Server
	Hub   *hub.Hub
	// Desk is the monitoring user (member of every emergency chat).
	Desk Person
	// Callers are people who place calls in demos and tests.
	Callers []Person
	Tenant  string
}

// Start runs all four services. It takes well under a second.
func Start(o Options) (*Emulator, error) {
	if o.TenantDomain == "" {
		o.TenantDomain = "emulator.onmicrosoft.com"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ca, err := emuca.New()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	signer := emutoken.NewSigner(key)
	e := &Emulator{CA: ca}
	desk := entra.User{ID: newGUID(), UPN: "desk@" + o.TenantDomain, DisplayName: "Security Desk"}
	callers := []entra.User{
		{ID: newGUID(), UPN: "alex.doe@" + o.TenantDomain, DisplayName: "Alex Doe"},
		{ID: newGUID(), UPN: "sam.rivera@" + o.TenantDomain, DisplayName: "Sam Rivera"},
	}
	e.Entra, err = entra.New(entra.Options{
		TenantDomain: o.TenantDomain, Users: append([]entra.User{desk}, callers...), CA: ca, Signer: signer,
		Logger: o.Logger, AccessTokenLifetime: o.AccessToken, DeviceCodeLifetime: o.DeviceCode, PollInterval: o.PollInterval,
		Hosts: []string{"login.microsoftonline.com"},
	})
	if err != nil {
		return nil, err
	}
	e.Tenant = e.Entra.TenantID()
	e.Hub, err = hub.New(hub.Options{HubName: o.HubName, Partitions: o.Partitions, CA: ca, Basic: o.Basic, Logger: o.Logger})
	if err != nil {
		e.Close()
		return nil, err
	}
	var users []graphemu.User
	for _, u := range append([]entra.User{desk}, callers...) {
		users = append(users, graphemu.User{ID: u.ID, DisplayName: u.DisplayName, UPN: u.UPN})
	}
	e.Desk, e.Callers = users[0], users[1:]
	e.Graph, err = graphemu.Start(graphemu.Options{
		Signer: signer, CheckToken: e.Entra.CheckAccessToken, CA: ca, Publisher: e.Hub, TenantID: e.Tenant, Users: users, Monitored: []string{desk.ID},
		Logger: o.Logger, Hosts: []string{"graph.microsoft.com"},
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops every service.
func (e *Emulator) Close() {
	if e.Graph != nil {
		e.Graph.Close()
	}
	if e.Hub != nil {
		e.Hub.Close()
	}
	if e.Entra != nil {
		e.Entra.Close()
	}
}

// Settings are what an app needs to use the emulator.
type Settings struct {
	Config config.Config
	// ConnectionString is the hub's (a secret: store it in the vault).
	ConnectionString string
	// CAFile is where the emulator's CA certificate was written.
	CAFile string
	// VerificationURL is the human device-login page.
	VerificationURL string
}

// Settings writes the CA certificate into dir and returns settings that
// point every endpoint at the emulator. base supplies the rest (e.g. a
// loaded config with its workstation ID); its endpoint fields are replaced.
func (e *Emulator) Settings(base config.Config, dir string) (Settings, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Settings{}, err
	}
	caFile := filepath.Join(dir, "emulator-ca.pem")
	if err := os.WriteFile(caFile, e.CA.PEM(), 0o600); err != nil {
		return Settings{}, fmt.Errorf("write emulator CA: %w", err)
	}
	c := base.Clone()
	c.OAuth.ClientID = e.Entra.ClientID()
	c.OAuth.TenantID = e.Tenant
	c.Cloud.Profile = config.CloudGlobal
	c.Cloud.AuthorityURL = e.Entra.URL()
	c.Cloud.GraphURL = e.Graph.URL
	c.Cloud.KafkaBootstrap = e.Hub.Addr()
	c.Cloud.ExtraCABundle = caFile
	c.EventHub.Enabled = true
	c.EventHub.Name = e.Hub.HubName()
	c.EventHub.PartitionCount = e.Hub.Partitions()
	return Settings{Config: c, ConnectionString: e.Hub.ConnectionString(), CAFile: caFile,
		VerificationURL: e.Entra.URL() + "/devicelogin"}, nil
}

// PostEmergencyCall has caller i (0 or 1) dial number from location.
func (e *Emulator) PostEmergencyCall(caller int, number, location string) (chatID, msgID string, err error) {
	if caller < 0 || caller >= len(e.Callers) {
		return "", "", fmt.Errorf("msemu: no caller %d", caller)
	}
	return e.Graph.PostEmergencyCall(e.Callers[caller], number, location)
}

// PostOrdinaryMessage posts a normal chat message from caller i to the desk.
func (e *Emulator) PostOrdinaryMessage(ctx context.Context, caller int, text string) (string, error) {
	if caller < 0 || caller >= len(e.Callers) {
		return "", fmt.Errorf("msemu: no caller %d", caller)
	}
	chat := e.Graph.ChatWith(e.Callers[caller], e.Desk)
	return e.Graph.PostMessage(ctx, chat, e.Callers[caller], "<p>"+text+"</p>", graphemu.MessageOptions{})
}

// ApproveNext approves the pending device code userCode as the desk user.
func (e *Emulator) Approve(userCode string) error { return e.Entra.Approve(userCode, e.Desk.UPN) }

func newGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
