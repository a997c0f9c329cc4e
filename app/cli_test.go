package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"emergencydesk/core/paths"
	"emergencydesk/core/secrets/secretstest"
)

func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := cli(t, "", "--version"); code != 0 || !strings.HasPrefix(out, "Emergency Desk ") {
		t.Fatalf("--version: %d %q", code, out)
	}
	if code, out, _ := cli(t, "", "--help"); code != 0 || !strings.Contains(out, "watch") || !strings.Contains(out, "config") {
		t.Fatalf("--help: %d %q", code, out)
	}
	if code, _, errOut := cli(t, "", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}

func TestScriptedSetupKeepsSecretsOutOfTheFile(t *testing.T) {
	secretstest.Vault(t) // skips (or fails under make test) without a keyring
	home := t.TempDir()
	t.Setenv(paths.HomeEnv, home)
	const key = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo="
	connStr := "Endpoint=sb://contoso-teams.servicebus.windows.net/;SharedAccessKeyName=CallTelemetry-Event-Hub-ReadWrite;SharedAccessKey=" + key + ";EntityPath=teams-events"
	clientSecret := "abc8Q~Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE_d"

	steps := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"config", "set", "oauth.clientId", "11111111-2222-3333-4444-555555555555"}, 0, "saved"},
		{"", []string{"config", "set", "oauth.tenantId", "contoso.onmicrosoft.com"}, 0, "saved"},
		{"", []string{"config", "set", "oauth.tenantId", "not a tenant"}, 1, "neither a GUID nor a domain"},
		{"", []string{"config", "set", "subscription.timeoutMinutes", "9000"}, 1, "4320"},
		{"", []string{"config", "set", "eventHub.partitionCount", "two"}, 1, "whole number"},
		{"", []string{"config", "set", "oauth.clientSecret", "x"}, 1, "secret set"},
		{connStr, []string{"secret", "set", "connection-string"}, 0, "stored connection-string"},
		{strings.Replace(connStr, "teams-events", "other", 1), []string{"secret", "set", "connection-string"}, 1, "EntityPath"},
		{clientSecret + "\n", []string{"secret", "set", "client-secret"}, 0, "stored client-secret"},
		{"", []string{"secret", "set", "client-secret", clientSecret}, 2, "stdin"},
	}
	for _, s := range steps {
		code, out, errOut := cli(t, s.stdin, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.want) {
			t.Fatalf("%v: code %d (want %d), output %q %q (want %q)", s.args, code, s.code, out, errOut, s.want)
		}
		if strings.Contains(out+errOut, key) || strings.Contains(out+errOut, clientSecret) {
			t.Fatalf("%v printed a secret: %q %q", s.args, out, errOut)
		}
	}
	code, out, _ := cli(t, "", "config", "show")
	if code != 0 || !strings.Contains(out, "11111111-2222-3333-4444-555555555555") || !strings.Contains(out, "SharedAccessKey=****") || !strings.Contains(out, "********") {
		t.Fatalf("config show: %d\n%s", code, out)
	}
	if strings.Contains(out, key) || strings.Contains(out, clientSecret) {
		t.Fatalf("config show reveals a secret:\n%s", out)
	}
	// Grep every file the app wrote for each secret.
	filepath.Walk(home, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, s := range []string{key, clientSecret} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})

	// Import: KEY=VALUE lines, validated as `set` is.
	f := filepath.Join(t.TempDir(), "desk.conf")
	os.WriteFile(f, []byte("# site defaults\neventHub.name=teams-events\neventHub.partitionCount=4\nalerts.numbers=911,112,933:test\n"), 0o600)
	if code, out, errOut := cli(t, "", "config", "import", f); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	os.WriteFile(f, []byte("eventHub.partitionCount=0\nbogus=1\n"), 0o600)
	if code, _, errOut := cli(t, "", "config", "import", f); code == 0 || !strings.Contains(errOut, "line 2") {
		t.Fatalf("bad import accepted: %d %s", code, errOut)
	}
	_, out, _ = cli(t, "", "config", "show")
	if !strings.Contains(out, "911,112,933:test") || !strings.Contains(out, "eventHub.partitionCount                  4") {
		t.Fatalf("import not applied:\n%s", out)
	}
}

func TestDiagnoseCommandOnAnUnconfiguredDesk(t *testing.T) {
	secretstest.Vault(t)
	t.Setenv(paths.HomeEnv, t.TempDir())
	code, out, errOut := cli(t, "", "diagnose", "--json")
	if code != 1 {
		t.Fatalf("exit %d with nothing configured, want 1\n%s%s", code, out, errOut)
	}
	var rep struct {
		Checks []struct{ ID, Status, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if len(rep.Checks) == 0 || rep.Checks[0].ID != "settings" || rep.Checks[0].Status != "fail" || !strings.Contains(rep.Checks[0].Fix+out, "Client ID") {
		t.Fatalf("first check: %+v", rep.Checks)
	}
	code, out, _ = cli(t, "", "diagnose")
	if code != 1 || !strings.Contains(out, "✘") {
		t.Fatalf("text report: %d\n%s", code, out)
	}
}

func TestEmulatorCommand(t *testing.T) {
	secretstest.Vault(t)
	home := t.TempDir()
	t.Setenv(paths.HomeEnv, home)
	code, out, errOut := cli(t, "help\n911 Gate 4\nbogus\nquit\n", "emulator", "--configure")
	if code != 0 {
		t.Fatalf("emulator: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"Microsoft emulator running", "device login page: https://127.0.0.1:", "emergencydesk config set cloud.kafkaBootstrap 127.0.0.1:", "posted 911 call", "unknown command \"bogus\"", "configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SharedAccessKey=") {
		t.Errorf("the emulator printed its connection string key:\n%s", out)
	}
	// --configure left a desk that validates, with the secret in the vault.
	if code, out, _ := cli(t, "", "config", "show"); code != 0 || !strings.Contains(out, "emulator-ns.servicebus.windows.net") || strings.Contains(out, "oauth.clientId                           \n") {
		t.Fatalf("config show after --configure:\n%s", out)
	}
}
