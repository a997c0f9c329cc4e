package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validConfig() Config {
	c := Default()
	c.OAuth.ClientID = "11111111-2222-3333-4444-555555555555"
	c.OAuth.TenantID = "contoso.onmicrosoft.com"
	return c
}

func TestDefaultsFollowTheGuide(t *testing.T) {
	c := Default()
	if c.OAuth.RefreshTokenExpirationMinutes != 2196 || c.Subscription.TimeoutMinutes != 4320 ||
		c.Subscription.DeliveryMode != DeliveryEventHub || !c.EventHub.Enabled || c.EventHub.Name != "teams-events" ||
		c.EventHub.ConsumerGroup != "$Default" || c.EventHub.PartitionCount != 2 {
		t.Fatalf("defaults differ from the guide: %+v", c)
	}
	if got := c.EnabledScopes(); strings.Join(got, " ") != "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read openid offline_access profile" {
		t.Fatalf("scopes: %v", got)
	}
	if got := c.GraphScopes(); strings.Join(got, " ") != "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read" {
		t.Fatalf("graph scopes: %v", got)
	}
	if !c.TestNumber("933") || c.TestNumber("911") {
		t.Fatal("933 must be the test number, 911 not")
	}
	if Default().WorkstationID == c.WorkstationID {
		t.Fatal("workstation IDs must differ between installs")
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Default()
	c.OAuth.TenantID = "not a tenant"
	c.OAuth.RefreshTokenExpirationMinutes = 5
	c.Subscription.TimeoutMinutes = 5000
	c.EventHub.Name = "bad name!"
	c.EventHub.PartitionCount = 0
	c.Permissions.Scopes["offline_access"] = false
	c.Cloud.GraphURL = "http://graph.example"
	c.Alerts.Numbers = []Number{{Number: "9-1-1"}}
	ps := c.Validate()
	for field, want := range map[string]string{
		"oauth.clientId":                      "Application (client) ID",
		"oauth.tenantId":                      "neither a GUID nor a domain",
		"oauth.refreshTokenExpirationMinutes": "between 60 and",
		"subscription.timeoutMinutes":         "4320",
		"eventHub.name":                       "not valid",
		"eventHub.partitionCount":             "partition count",
		"permissions.offline_access":          "no refresh token",
		"cloud.graphUrl":                      "https://",
		"alerts.numbers":                      "2 to 6 digits",
	} {
		got := ps.For(field)
		if len(got) == 0 || !strings.Contains(got[0].Message, want) {
			t.Errorf("%s: want a problem mentioning %q, got %v", field, want, got)
		}
	}
	if w := ps.For("permissions.offline_access"); len(w) == 0 || w[0].Severity != Warning {
		t.Errorf("an unchecked scope is a warning, got %v", w)
	}
	if errs := validConfig().Validate().Errors(); len(errs) != 0 {
		t.Fatalf("valid config has errors: %v", errs)
	}
}

func TestConnString(t *testing.T) {
	const key = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/ABCD="
	good := "Endpoint=sb://contoso-teams.servicebus.windows.net/;SharedAccessKeyName=CallTelemetry-Event-Hub-ReadWrite;SharedAccessKey=" + key + ";EntityPath=teams-events"
	cs, err := ParseConnString(good, "teams-events")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Namespace != "contoso-teams" || cs.Host != "contoso-teams.servicebus.windows.net" || cs.Bootstrap() != "contoso-teams.servicebus.windows.net:9093" || cs.EntityPath != "teams-events" || cs.Raw() != good {
		t.Fatalf("parsed: %+v", cs)
	}
	if strings.Contains(cs.String(), key) {
		t.Fatal("String() reveals the key")
	}
	gov, err := ParseConnString("Endpoint=sb://agency.servicebus.usgovcloudapi.net/;SharedAccessKeyName=p;SharedAccessKey=k", "")
	if err != nil || gov.Bootstrap() != "agency.servicebus.usgovcloudapi.net:9093" {
		t.Fatalf("gov cloud: %+v %v", gov, err)
	}
	for _, tc := range []struct{ in, hub, want string }{
		{"", "h", "is empty"},
		{"Endpoint=https://x.servicebus.windows.net/;SharedAccessKeyName=p;SharedAccessKey=" + key, "", "sb://"},
		{"Endpoint=sb://x.example.com/;SharedAccessKeyName=p;SharedAccessKey=" + key, "", "not an Event Hubs namespace"},
		{"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=" + key, "", "SharedAccessKeyName"},
		{"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=p", "", "SharedAccessKey"},
		{good, "other-hub", `EntityPath) but the Event Hub Name setting is "other-hub"`},
		{"garbage", "", "without \"=\""},
	} {
		_, err := ParseConnString(tc.in, tc.hub)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConnString) {
			t.Errorf("%q: want error containing %q, got %v", tc.in, tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("error reveals the key: %v", err)
		}
	}
	c := validConfig()
	if _, ps := c.ValidateConnString(strings.TrimSuffix(good, ";EntityPath=teams-events")); len(ps) != 1 || ps[0].Severity != Warning {
		t.Errorf("missing EntityPath should warn: %v", ps)
	}
	c.Cloud.Profile = CloudChina
	if _, ps := c.ValidateConnString(good); len(ps.Errors()) != 1 {
		t.Errorf("cloud mismatch should be an error: %v", ps)
	}
	c.Cloud.Profile = CloudGlobal
	c.Cloud.KafkaBootstrap = "127.0.0.1:39093"
	if addr, name := c.Bootstrap(cs); addr != "127.0.0.1:39093" || name != "contoso-teams.servicebus.windows.net" {
		t.Errorf("override: %s %s", addr, name)
	}
}

func TestEndpointsPerCloud(t *testing.T) {
	c := validConfig()
	for profile, want := range map[string][2]string{
		CloudGlobal: {"https://login.microsoftonline.com/contoso.onmicrosoft.com", "https://graph.microsoft.com/v1.0"},
		CloudUSGov:  {"https://login.microsoftonline.us/contoso.onmicrosoft.com", "https://graph.microsoft.us/v1.0"},
		CloudUSDoD:  {"https://login.microsoftonline.us/contoso.onmicrosoft.com", "https://dod-graph.microsoft.us/v1.0"},
		CloudChina:  {"https://login.chinacloudapi.cn/contoso.onmicrosoft.com", "https://microsoftgraph.chinacloudapi.cn/v1.0"},
	} {
		c.Cloud.Profile = profile
		e, err := c.Endpoints()
		if err != nil || e.Authority != want[0] || e.Graph != want[1] {
			t.Errorf("%s: %+v %v", profile, e, err)
		}
	}
	c.Cloud.Profile = CloudGlobal
	c.Cloud.AuthorityURL = "https://127.0.0.1:8443/"
	c.Cloud.GraphURL = "https://127.0.0.1:9443/v1.0"
	e, _ := c.Endpoints()
	if e.Authority != "https://127.0.0.1:8443/contoso.onmicrosoft.com" || e.Graph != "https://127.0.0.1:9443/v1.0" || e.GraphHost != "127.0.0.1:9443" {
		t.Errorf("overrides: %+v", e)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "settings.json")
	first, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil || again.WorkstationID != first.WorkstationID {
		t.Fatalf("workstation ID not stable: %q vs %q (%v)", first.WorkstationID, again.WorkstationID, err)
	}
	c := validConfig()
	c.WorkstationID = first.WorkstationID
	c.Alerts.Numbers = ParseNumbers("911,112,933:test")
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	back, err := Load(path)
	if err != nil || back.OAuth.ClientID != c.OAuth.ClientID || FormatNumbers(back.Alerts.Numbers) != "911,112,933:test" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, err := os.Stat(BackupPath(path)); err != nil {
		t.Fatalf("no backup kept: %v", err)
	}
	// Corrupt the file: Load names it and the backup, and Save refuses to
	// overwrite it silently.
	os.WriteFile(path, []byte(`{"schemaVersion":1,"oauth":`), 0o600)
	_, err = Load(path)
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) || ce.Backup == "" {
		t.Fatalf("corrupt load: %v", err)
	}
	if err := Save(path, c); !errors.As(err, &ce) {
		t.Fatalf("Save over a damaged file must refuse, got %v", err)
	}
	restored, err := RestoreBackup(path)
	if err != nil || restored.WorkstationID != first.WorkstationID {
		t.Fatalf("restore: %v", err)
	}
	if _, err := os.Stat(path + ".damaged"); err != nil {
		t.Fatal("damaged file not kept for inspection")
	}
	// A file from a newer version is refused with advice.
	os.WriteFile(path, []byte(`{"schemaVersion":99}`), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestMigrationFromSchema0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(path, []byte(`{"oauth":{"clientId":"11111111-2222-3333-4444-555555555555","tenantId":"contoso.com","refreshTokenExpirationMinutes":2196},"eventHub":{"enabled":true,"name":"hub","consumerGroup":"$Default","partitionCount":4}}`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaVersion != SchemaVersion || !c.Subscription.RichNotifications || c.EventHub.MissedWindowMinutes != 60 || c.EventHub.PartitionCount != 4 || c.WorkstationID == "" || c.Subscription.TimeoutMinutes != 4320 {
		t.Fatalf("migrated: %+v", c)
	}
}

func TestFieldsSetAndGet(t *testing.T) {
	c := Default()
	for key, val := range map[string]string{
		"oauth.clientId": "11111111-2222-3333-4444-555555555555", "eventHub.partitionCount": "4",
		"eventHub.enabled": "false", "permissions.Chat.Read": "false", "alerts.numbers": "911,933:test,112",
		"alerts.patterns": "has placed an Emergency Call|a passé un appel d'urgence",
	} {
		f, err := LookupField(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Set(&c, val); err != nil {
			t.Fatal(err)
		}
		if got := f.Get(&c); got != val {
			t.Errorf("%s: set %q got %q", key, val, got)
		}
	}
	f, _ := LookupField("eventHub.partitionCount")
	if err := f.Set(&c, "two"); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Errorf("bad number: %v", err)
	}
	if _, err := LookupField("oauth.clientSecret"); err == nil || !strings.Contains(err.Error(), "secret set") {
		t.Errorf("secret key must point at `secret set`: %v", err)
	}
	if _, err := LookupField("nope"); err == nil || !strings.Contains(err.Error(), "oauth.clientId") {
		t.Errorf("unknown key must list keys: %v", err)
	}
}
