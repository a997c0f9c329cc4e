package msemu_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/config"
	"emergencydesk/core/msemu"
)

// TestOneProcessAllServicesLoopback: the facade's settings validate, every
// listener is on loopback, a plain HTTP client reaches Entra's discovery
// document and Graph's error contract, and franz-go authenticates to the
// hub over TLS + SASL with the namespace host name verified.
func TestOneProcessAllServicesLoopback(t *testing.T) {
	emu, err := msemu.Start(msemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	s, err := emu.Settings(config.Default(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if errs := s.Config.Validate().Errors(); len(errs) != 0 {
		t.Fatalf("emulator settings do not validate: %v", errs)
	}
	cs, ps := s.Config.ValidateConnString(s.ConnectionString)
	if len(ps.Errors()) != 0 {
		t.Fatalf("connection string: %v", ps)
	}
	for _, u := range []string{emu.Entra.URL(), emu.Graph.URL, "tcp://" + emu.Hub.Addr()} {
		pu, _ := url.Parse(u)
		if ip := net.ParseIP(pu.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s is not a loopback listener", u)
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: emu.CA.ClientTLS()}}
	ep, _ := s.Config.Endpoints()
	resp, err := hc.Get(ep.Authority + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if !strings.HasSuffix(disc["token_endpoint"].(string), "/oauth2/v2.0/token") {
		t.Fatalf("discovery: %v", disc)
	}
	resp, err = hc.Get(ep.Graph + "/me")
	if err != nil {
		t.Fatal(err)
	}
	var ge struct{ Error struct{ Code string } }
	json.NewDecoder(resp.Body).Decode(&ge)
	resp.Body.Close()
	if resp.StatusCode != 401 || ge.Error.Code != "InvalidAuthenticationToken" {
		t.Fatalf("Graph without a token: %d %+v", resp.StatusCode, ge)
	}
	addr, serverName := s.Config.Bootstrap(cs)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: emu.CA.Pool(), ServerName: serverName, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: cs.Raw()}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(context.Background()); err != nil {
		t.Fatalf("franz-go over TLS + SASL: %v", err)
	}
	if _, _, err := emu.PostEmergencyCall(0, "911", "Lobby"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStart: the whole emulator (CA, Entra ID, Graph, hub) starts in
// well under a second.
func BenchmarkStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		emu, err := msemu.Start(msemu.Options{})
		if err != nil {
			b.Fatal(err)
		}
		emu.Close()
	}
}
