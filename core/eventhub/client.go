package eventhub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/config"
)

// Microsoft's recommended client settings for Event Hubs' Kafka endpoint:
// the service drops idle connections after 240 s, so metadata max age and
// the idle timeout stay under it.
const (
	MetadataMaxAge  = 180 * time.Second
	ConnIdleTimeout = 180 * time.Second
	// RequestTimeoutOverhead is the headroom added on top of each request's
	// own timeout (Microsoft recommends a 60 s request timeout for Java).
	RequestTimeoutOverhead = 20 * time.Second
	DialTimeout            = 10 * time.Second
)

// Conn describes how to reach the hub.
type Conn struct {
	// ConnString is the raw connection string (the SASL password).
	ConnString string
	// HubName is the Event Hub Name setting (the Kafka topic).
	HubName string
	// Bootstrap overrides the address dialled (host:port); TLS still
	// verifies the namespace host. Empty: <namespace host>:9093.
	Bootstrap string
	// ExtraCAPEM is trusted in addition to the system roots.
	ExtraCAPEM []byte
	// ClientID names this desk to the hub (e.g. the workstation ID).
	ClientID string
}

// ConnFromConfig builds a Conn from settings and the vault's connection
// string, reading the extra CA bundle file.
func ConnFromConfig(c config.Config, connString string) (Conn, error) {
	cn := Conn{ConnString: connString, HubName: c.EventHub.Name, Bootstrap: c.Cloud.KafkaBootstrap, ClientID: "emergencydesk-" + c.WorkstationID}
	if f := c.Cloud.ExtraCABundle; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return Conn{}, fmt.Errorf("extra CA bundle %s cannot be read: %w", f, err)
		}
		cn.ExtraCAPEM = pem
	}
	return cn, nil
}

// resolved is a checked Conn.
type resolved struct {
	cs         config.ConnString
	addr       string
	serverName string
	tls        *tls.Config
}

// resolve checks the connection string (EntityPath must match the hub name:
// refused before connecting) and builds the TLS config.
func (c Conn) resolve() (resolved, error) {
	if c.HubName == "" {
		return resolved{}, &Error{Problem{KindTopic, "the Event Hub Name setting is empty", "enter the event hub's name (the Kafka topic), e.g. " + config.DefaultEventHubName}, nil}
	}
	cs, err := config.ParseConnString(c.ConnString, c.HubName)
	if err != nil {
		return resolved{}, &Error{Problem{KindConnString, err.Error(), "paste the event hub's \"Connection string–primary key\" (Shared access policies) into the Event Hub settings"}, err}
	}
	addr := cs.Bootstrap()
	if c.Bootstrap != "" {
		if _, _, err := net.SplitHostPort(c.Bootstrap); err != nil {
			return resolved{}, &Error{Problem{KindConnString, fmt.Sprintf("Kafka bootstrap override %q is not host:port", c.Bootstrap), "use host:port such as 10.1.2.3:9093, or leave it empty"}, err}
		}
		addr = c.Bootstrap
	}
	pool, ok := config.RootCAs(c.ExtraCAPEM)
	if !ok {
		return resolved{}, &Error{Problem{KindTLS, "the extra CA bundle holds no PEM certificate", "select a PEM file with -----BEGIN CERTIFICATE----- blocks (the proxy's root CA)"}, errors.New("no certificates in extra CA bundle")}
	}
	return resolved{cs: cs, addr: addr, serverName: cs.Host,
		tls: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: cs.Host}}, nil
}

// clientCaps keeps ApiVersions at v3: v4 makes Event Hubs reset the
// connection (franz-go would recover, at one wasted round trip per dial).
func clientCaps() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(18, 3)
	return v
}

func (r resolved) clientOpts(clientID string, log *slog.Logger, hooks ...kgo.Hook) []kgo.Opt {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}, Config: r.tls}
	if clientID == "" {
		clientID = "emergencydesk"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.addr),
		kgo.Dialer(d.DialContext),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: r.cs.Raw()}.AsMechanism()),
		kgo.ClientID(clientID),
		kgo.MaxVersions(clientCaps()),
		kgo.MetadataMaxAge(MetadataMaxAge),
		kgo.ConnIdleTimeout(ConnIdleTimeout),
		kgo.RequestTimeoutOverhead(RequestTimeoutOverhead),
		kgo.RetryBackoffFn(backoff),
		kgo.WithLogger(kgoLogger{log}),
	}
	if len(hooks) > 0 {
		opts = append(opts, kgo.WithHooks(hooks...))
	}
	return opts
}

// backoff is capped, jittered exponential: 250 ms doubling to 30 s, ±20%.
func backoff(tries int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < tries && d < 30*time.Second; i++ {
		d *= 2
	}
	d = min(d, 30*time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// kgoLogger forwards franz-go's warnings and errors to slog. franz-go never
// logs SASL passwords.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	k.l.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}
