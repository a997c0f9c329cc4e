package diagnose

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/graph"
	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/entra"
	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
)

func (e *env) uid(base string) string { return UserCheckID(base, e.user.ID) }

func TestAllGreen(t *testing.T) {
	e := newEnv(t, envOpts{realVault: secretstest.Vault(t)})
	rep := e.run(Options{EndToEnd: true})
	for _, c := range rep.Checks {
		if c.Status != Pass {
			t.Errorf("%s: %s: %s / %s", c.ID, c.Status, c.Detail, c.Fix)
		}
	}
	if rep.Failed() {
		t.Fatal("Failed() true on an all-green run")
	}
	expect(t, rep, IDEndToEnd, Pass, "reachability record", "dial 933")
	expect(t, rep, IDTLSEventHub, Pass, "TLS 1.3", nsHost)
	expect(t, rep, e.uid(IDGraph), Pass, "delivers to this hub")
	expect(t, rep, IDHubTopic, Pass, "2 partitions", "EntityPath matches")
	expect(t, rep, IDHubLag, Pass, "partition 0", "partition 1")
	want := []string{IDSettings, IDDNSLogin, IDDNSGraph, IDDNSEventHub, IDTLSLogin, IDTLSGraph, IDTLSEventHub,
		e.uid(IDIdentity), e.uid(IDGraph), IDHubAuth, IDHubTopic, IDHubLag, IDEndToEnd}
	if len(rep.Checks) != len(want) {
		t.Fatalf("got %d checks, want %d", len(rep.Checks), len(want))
	}
	for i, id := range want {
		if rep.Checks[i].ID != id {
			t.Errorf("check %d is %s, want %s (chain order)", i, rep.Checks[i].ID, id)
		}
	}
}

func TestPublicClientFlowDisabled(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.entra.AddApp(entra.App{ClientID: e.cfg.OAuth.ClientID, Name: "Emergency Desk", DisablePublicClientFlows: true})
	rep := e.run(Options{})
	expect(t, rep, e.uid(IDIdentity), Fail, "AADSTS7000218", "Allow public client flows", "Authentication → Advanced settings")
	expect(t, rep, e.uid(IDGraph), Skip, e.uid(IDIdentity))
	if !rep.Failed() {
		t.Fatal("Failed() false")
	}
}

func TestMissingPermissions(t *testing.T) {
	e := newEnv(t, envOpts{scopes: []string{"User.Read"}, noSub: true})
	rep := e.run(Options{})
	expect(t, rep, e.uid(IDIdentity), Fail, "Missing API permissions", "Chat.Read", "ChatMessage.Read", "API permissions")
}

func TestExpiredSecret(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.entra.InjectError(7000222, entra.OnRefresh, true); err != nil {
		t.Fatal(err)
	}
	rep := e.run(Options{})
	expect(t, rep, e.uid(IDIdentity), Fail, "AADSTS7000222", "Client secret expired", "Certificates & secrets", "New client secret")
}

func TestNamespaceNotFound(t *testing.T) {
	e := newEnv(t, envOpts{})
	delete(e.resolver.hosts, nsHost)
	rep := e.run(Options{})
	expect(t, rep, IDDNSEventHub, Fail, "NXDOMAIN", "Namespace not found", "verify the resource group and namespace names")
	expect(t, rep, IDTLSEventHub, Skip, IDDNSEventHub)
	expect(t, rep, IDHubAuth, Skip)
	expect(t, rep, IDHubTopic, Skip)
	// The rest of the chain is still tested.
	expect(t, rep, e.uid(IDGraph), Pass)
}

func TestConnectionStringInvalid(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		e.vault.Set(secrets.ConnectionString, "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen")
		rep := e.run(Options{})
		expect(t, rep, IDSettings, Fail, "eventHub.connectionString", "SharedAccessKey")
		expect(t, rep, IDDNSEventHub, Skip, "no valid Event Hub connection string")
		expect(t, rep, IDHubAuth, Skip)
	})
	t.Run("missing", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		e.vault = &mapVault{m: map[string]string{}}
		rep := e.run(Options{})
		expect(t, rep, IDSettings, Fail, "no Event Hub connection string is stored", "secret set connection-string")
	})
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		cs := e.hub.ConnectionString()
		i := strings.Index(cs, "SharedAccessKey=")
		j := strings.Index(cs[i:], ";")
		bad := cs[:i] + "SharedAccessKey=d3JvbmdrZXl3cm9uZ2tleXdyb25na2V5d3Jvbmc=" + cs[i+j:]
		e.vault.Set(secrets.ConnectionString, bad)
		rep := e.run(Options{})
		expect(t, rep, IDHubAuth, Fail, "Connection string invalid", "Shared access policies")
		expect(t, rep, IDHubTopic, Skip)
	})
}

func TestEntityPath(t *testing.T) {
	t.Run("wrong hub", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		e.cfg.EventHub.Name = "other-hub"
		rep := e.run(Options{})
		expect(t, rep, IDSettings, Fail, "EntityPath", `"other-hub"`)
		expect(t, rep, IDHubAuth, Skip)
	})
	t.Run("missing EntityPath, hub name typo", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		e.namespacePolicyHub()
		e.cfg.EventHub.Name = "teams-evnts"
		rep := e.run(Options{})
		expect(t, rep, IDSettings, Warn, "no EntityPath")
		expect(t, rep, IDHubAuth, Pass)
		expect(t, rep, IDHubTopic, Fail, `"teams-evnts" does not exist`, "includes EntityPath")
		expect(t, rep, IDHubLag, Skip)
	})
	t.Run("missing EntityPath", func(t *testing.T) {
		e := newEnv(t, envOpts{noSignIn: true})
		e.namespacePolicyHub()
		rep := e.run(Options{})
		expect(t, rep, IDHubTopic, Warn, "no EntityPath", "Shared access policies")
	})
}

func TestPartitionCountMismatch(t *testing.T) {
	e := newEnv(t, envOpts{noSignIn: true})
	e.cfg.EventHub.PartitionCount = 4
	rep := e.run(Options{})
	expect(t, rep, IDHubTopic, Warn, "Partition Count setting is 4 but the hub has 2", "set Partition Count to 2")
}

func TestChangeTrackingRoleMissing(t *testing.T) {
	e := newEnv(t, envOpts{noSub: true})
	e.graph.SetSendClaimMissing(true)
	err := e.subscribe() // what the desk does on start
	if err == nil {
		t.Fatal("subscription creation succeeded without the Data Sender role")
	}
	e.subProb[0], e.subProb[1] = graph.Classify(err)
	rep := e.run(Options{})
	expect(t, rep, e.uid(IDGraph), Fail, "Send claim(s) required", "Azure Event Hubs Data Sender",
		"Microsoft Graph Change Tracking", graph.ChangeTrackingAppID, "az role assignment create")
}

func TestSubscriptionWrongHub(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.cfg.OAuth.TenantID = "contoso.onmicrosoft.com" // the subscription names the tenant id
	rep := e.run(Options{})
	expect(t, rep, e.uid(IDGraph), Fail, "but this desk reads", "Resubscribe")
}

func TestFirewallBlocks9093(t *testing.T) {
	e := newEnv(t, envOpts{noSignIn: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e.cfg.Cloud.KafkaBootstrap = nsHost + ":" + itoa(closed)
	rep := e.run(Options{})
	expect(t, rep, IDTLSEventHub, Fail, "refused", "allow outbound TCP 9093", "*.servicebus.windows.net")
	expect(t, rep, IDHubAuth, Skip, IDTLSEventHub)
	expect(t, rep, IDTLSGraph, Pass)
}

func TestTLSUnknownCA(t *testing.T) {
	proxyCA, err := emuca.New() // stands in for a TLS-inspecting proxy's CA
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{noSignIn: true, hubCA: proxyCA})
	rep := e.run(Options{})
	expect(t, rep, IDTLSEventHub, Fail, "does not trust", "TLS-inspecting proxy", "Extra CA bundle", "cloud.extraCaBundle")
	expect(t, rep, IDHubAuth, Skip)
	expect(t, rep, IDTLSLogin, Pass)
}

func TestBasicTier(t *testing.T) {
	e := newEnv(t, envOpts{noSignIn: true, basic: true})
	rep := e.run(Options{})
	expect(t, rep, IDHubAuth, Fail, "TOPIC_AUTHORIZATION_FAILED", "Basic tier has no Kafka endpoint", "Standard")
	expect(t, rep, IDHubTopic, Skip)
}

func TestNoMonitoringUser(t *testing.T) {
	e := newEnv(t, envOpts{noSignIn: true})
	rep := e.run(Options{})
	expect(t, rep, IDIdentity, Fail, "Add Monitoring User")
	expect(t, rep, IDGraph, Skip)
}

// TestUnreachableFinishesInTime: every host resolves to loopback ports
// that accept and never answer (or to a DNS server that never answers);
// the run must end well inside 15 s with every link explained.
func TestUnreachableFinishesInTime(t *testing.T) {
	bh := blackhole(t)
	e := newEnv(t, envOpts{})
	e.cfg.Cloud.AuthorityURL = "https://login.microsoftonline.com:" + bh
	e.cfg.Cloud.GraphURL = "https://" + graphHost + ":" + bh
	e.cfg.Cloud.KafkaBootstrap = nsHost + ":" + bh
	e.resolver.hosts["login.microsoftonline.com"] = []string{"127.0.0.1"}
	start := time.Now()
	rep := e.run(Options{EndToEnd: true})
	if d := time.Since(start); d >= 15*time.Second {
		t.Fatalf("run took %s", d)
	}
	for _, id := range []string{IDTLSLogin, IDTLSGraph, IDTLSEventHub} {
		expect(t, rep, id, Fail, "no answer")
	}
	expect(t, rep, IDTLSEventHub, Fail, "allow outbound TCP 9093")
	expect(t, rep, e.uid(IDIdentity), Skip)
	expect(t, rep, IDHubAuth, Skip)
	expect(t, rep, IDEndToEnd, Skip)

	e.resolver.hang = map[string]bool{"login.microsoftonline.com": true, graphHost: true, nsHost: true}
	start = time.Now()
	rep = e.run(Options{EndToEnd: true})
	if d := time.Since(start); d >= 15*time.Second {
		t.Fatalf("run with a silent DNS server took %s", d)
	}
	expect(t, rep, IDDNSEventHub, Fail, "got no answer")
}

// blackhole listens on loopback, accepts and never answers.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return itoa(ln.Addr().(*net.TCPAddr).Port)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNoSecretsInOutput runs green and failing diagnostics with every
// secret set and greps both outputs for them.
func TestNoSecretsInOutput(t *testing.T) {
	e := newEnv(t, envOpts{})
	cs := e.hub.ConnectionString()
	parsed, err := config.ParseConnString(cs, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.prober.SilentToken(context.Background(), e.cfg.Users[0])
	if err != nil {
		t.Fatal(err)
	}
	secretsList := map[string]string{"connection string": cs, "SAS key": parsed.Key, "access token": tok.AccessToken,
		"client secret": "abc8Q~clientsecretvalue1234567890ABCDEFG", "clientState": "state-123456"}
	check := func(name string, rep Report) {
		var text, js bytes.Buffer
		WriteText(&text, rep)
		WriteJSON(&js, rep)
		for what, s := range secretsList {
			if strings.Contains(text.String(), s) || strings.Contains(js.String(), s) {
				t.Errorf("%s: the %s appears in the output", name, what)
			}
		}
	}
	check("green", e.run(Options{EndToEnd: true}))
	// A malformed connection string whose key is echoed nowhere.
	e.vault.Set(secrets.ConnectionString, "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKey="+parsed.Key)
	check("malformed", e.run(Options{}))
	e.vault.Set(secrets.ConnectionString, cs)
	e.hub.Stop()
	check("hub down", e.run(Options{}))
}

func TestJSONStable(t *testing.T) {
	rep := Report{Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 1500 * time.Millisecond,
		Checks: []Check{{ID: IDSettings, Title: "Settings", Status: Warn, Detail: "d", Fix: "f", Duration: time.Millisecond}, {ID: IDDNSLogin, Title: "DNS", Status: Pass, Detail: "ok"}}}
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `{
  "started": "2025-01-02T03:04:05Z",
  "durationNs": 1500000000,
  "checks": [
    {
      "id": "settings",
      "title": "Settings",
      "status": "warn",
      "detail": "d",
      "fix": "f",
      "durationNs": 1000000
    },
    {
      "id": "dns.login",
      "title": "DNS",
      "status": "pass",
      "detail": "ok",
      "durationNs": 0
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("JSON changed:\n%s", b.String())
	}
	if rep.Failed() {
		t.Fatal("warn counted as failure")
	}
	rep.Checks[1].Status = Fail
	if !rep.Failed() {
		t.Fatal("fail not counted")
	}
	var text bytes.Buffer
	WriteText(&text, rep)
	for _, s := range []string{"! settings", "✘ dns.login", "    fix: f", "FAILED"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, text.String())
		}
	}
}

func TestExplainAADSTS(t *testing.T) {
	for code, words := range map[string]string{
		"AADSTS7000218": "Allow public client flows", "AADSTS65001": "Accept", "AADSTS7000222": "New client secret",
		"AADSTS50076": "MFA", "AADSTS70043": "sign-in frequency", "AADSTS700082": "sign the monitoring user in again",
	} {
		s, f, ok := ExplainAADSTS(errString("invalid_grant: " + code + ": blah"))
		if !ok || !strings.Contains(s+f, words) {
			t.Errorf("%s: %q / %q", code, s, f)
		}
	}
	if _, _, ok := ExplainAADSTS(errString("connection refused")); ok {
		t.Error("explained an error without a code")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
