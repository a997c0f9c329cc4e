package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestEverySecretKindIsRedacted(t *testing.T) {
	const sasKey = "q8Fz3kP0aBcDeFgHiJkLmNoPqRsTuVwXyZ012345678="
	connStr := "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=Listen;SharedAccessKey=" + sasKey + ";EntityPath=teams-events"
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJvaWQiOiIxMjMiLCJzY3AiOiJDaGF0LlJlYWQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	refresh := "0.AXoAz9f8bQ3kRkqP5rT7vW1xY2zA3bC4dE5fG6hI7jK8lM9nO0pQ1rS2tU3vW4xY5z"
	clientSecret := "abc8Q~Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE_d"
	privateKey := "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"
	custom := "vault-only-value-7d1f"
	AddSecret(custom)

	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	log.Info("connecting with "+connStr, "cs", connStr)
	log.Info("token", "access", jwt, "body", `{"access_token":"`+jwt+`","refresh_token":"`+refresh+`"}`)
	log.Warn("refresh", "rt", refresh, slog.Group("g", "inner", "refresh_token="+refresh))
	log.Error("secret", "err", errors.New("AADSTS7000215: Invalid client secret provided: "+clientSecret))
	log.Info("key", "pem", []byte(privateKey))
	log.With("cached", custom).Info("custom " + custom)
	out := buf.String()
	for name, secret := range map[string]string{"SAS key": sasKey, "JWT": jwt, "JWT payload": "eyJvaWQiOiIxMjMiLCJzY3AiOiJDaGF0LlJlYWQifQ", "refresh token": refresh, "client secret": clientSecret, "private key": "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun", "registered secret": custom} {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaked into the log:\n%s", name, out)
		}
	}
	for _, keep := range []string{"contoso.servicebus.windows.net", "SharedAccessKeyName=Listen", "EntityPath=teams-events", "AADSTS7000215"} {
		if !strings.Contains(out, keep) {
			t.Errorf("redaction removed useful context %q:\n%s", keep, out)
		}
	}
}

func TestSetupWritesRotatingFile(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, closer, err := Setup(Options{File: dir + "/logs/app.log", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "SharedAccessKey", "SharedAccessKey=abcdefghijkl")
	closer.Close()
	if !strings.Contains(stderr.String(), "hello") || strings.Contains(stderr.String(), "abcdefghijkl") {
		t.Fatalf("stderr: %q", stderr.String())
	}
	data, err := os.ReadFile(dir + "/logs/app.log")
	if err != nil || !strings.Contains(string(data), `"msg":"hello"`) || strings.Contains(string(data), "abcdefghijkl") {
		t.Fatalf("log file: %q %v", data, err)
	}
}
