package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Field describes one setting for scripted set-up and the settings screen.
type Field struct {
	Key   string // e.g. oauth.clientId
	Tab   string // the guide's tab, or "Advanced"
	Label string // the guide's label
	Help  string
	get   func(*Config) string
	set   func(*Config, string) error
}

// Get returns the field's value as text.
func (f Field) Get(c *Config) string { return f.get(c) }

// Set parses and stores the value; it checks the type only, Validate
// checks the rest.
func (f Field) Set(c *Config, v string) error { return f.set(c, v) }

func str(p func(*Config) *string) (func(*Config) string, func(*Config, string) error) {
	return func(c *Config) string { return *p(c) },
		func(c *Config, v string) error { *p(c) = strings.TrimSpace(v); return nil }
}

func num(label string, p func(*Config) *int) (func(*Config) string, func(*Config, string) error) {
	return func(c *Config) string { return strconv.Itoa(*p(c)) },
		func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s must be a whole number, got %q", label, v)
			}
			*p(c) = n
			return nil
		}
}

func boolean(label string, p func(*Config) *bool) (func(*Config) string, func(*Config, string) error) {
	return func(c *Config) string { return strconv.FormatBool(*p(c)) },
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s must be true or false, got %q", label, v)
			}
			*p(c) = b
			return nil
		}
}

func field(key, tab, label, help string, gs func() (func(*Config) string, func(*Config, string) error)) Field {
	g, s := gs()
	return Field{Key: key, Tab: tab, Label: label, Help: help, get: g, set: s}
}

// Fields lists every scripted setting in screen order.
var Fields = func() []Field {
	fs := []Field{
		field("oauth.clientId", "OAuth Settings", "Client ID", "Application (client) ID of the app registration",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.OAuth.ClientID })
			}),
		field("oauth.tenantId", "OAuth Settings", "Tenant ID", "Directory (tenant) ID or a verified domain",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.OAuth.TenantID })
			}),
		field("oauth.refreshTokenExpirationMinutes", "OAuth Settings", "Refresh Token Expiration Minutes", "renew the refresh token well before this age",
			func() (func(*Config) string, func(*Config, string) error) {
				return num("Refresh Token Expiration Minutes", func(c *Config) *int { return &c.OAuth.RefreshTokenExpirationMinutes })
			}),
		field("subscription.deliveryMode", "Subscription Settings", "Delivery Mode", "eventhub (the only mode)",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Subscription.DeliveryMode })
			}),
		field("subscription.timeoutMinutes", "Subscription Settings", "Subscription Timeout Minutes", "subscription lifetime, at most 4320 (3 days)",
			func() (func(*Config) string, func(*Config, string) error) {
				return num("Subscription Timeout Minutes", func(c *Config) *int { return &c.Subscription.TimeoutMinutes })
			}),
		field("subscription.richNotifications", "Subscription Settings", "Rich notifications", "ask Graph to include the encrypted message in the notification",
			func() (func(*Config) string, func(*Config, string) error) {
				return boolean("Rich notifications", func(c *Config) *bool { return &c.Subscription.RichNotifications })
			}),
		field("eventHub.enabled", "Event Hub", "Enable Event Hub Integration", "",
			func() (func(*Config) string, func(*Config, string) error) {
				return boolean("Enable Event Hub Integration", func(c *Config) *bool { return &c.EventHub.Enabled })
			}),
		field("eventHub.name", "Event Hub", "Event Hub Name", "the Event Hub's name in the namespace",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.EventHub.Name })
			}),
		field("eventHub.consumerGroup", "Event Hub", "Consumer Group", "the Event Hub consumer group from the guide (desks read every partition themselves; see the Kafka mode below)",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.EventHub.ConsumerGroup })
			}),
		field("eventHub.partitionCount", "Event Hub", "Partition Count", "must equal the hub's partition count",
			func() (func(*Config) string, func(*Config, string) error) {
				return num("Partition Count", func(c *Config) *int { return &c.EventHub.PartitionCount })
			}),
		field("eventHub.missedWindowMinutes", "Event Hub", "Missed-while-offline window (minutes)", "on a desk's first start, report calls from this far back",
			func() (func(*Config) string, func(*Config, string) error) {
				return num("Missed-while-offline window", func(c *Config) *int { return &c.EventHub.MissedWindowMinutes })
			}),
		field("cloud.profile", "Advanced", "Cloud", "global, usgov, usdod or china",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Cloud.Profile })
			}),
		field("cloud.authorityUrl", "Advanced", "Login URL override", "e.g. https://login.microsoftonline.com (empty: the cloud's)",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Cloud.AuthorityURL })
			}),
		field("cloud.graphUrl", "Advanced", "Graph URL override", "e.g. https://graph.microsoft.com (empty: the cloud's)",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Cloud.GraphURL })
			}),
		field("cloud.kafkaBootstrap", "Advanced", "Kafka bootstrap override", "host:port to dial instead of <namespace>:9093",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Cloud.KafkaBootstrap })
			}),
		field("cloud.extraCaBundle", "Advanced", "Extra CA bundle", "PEM file trusted besides the system roots (TLS inspection proxies)",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.Cloud.ExtraCABundle })
			}),
		{Key: "alerts.numbers", Tab: "Advanced", Label: "Emergency numbers", Help: "comma-separated; suffix :test marks a test number, e.g. 911,933:test",
			get: func(c *Config) string { return FormatNumbers(c.Alerts.Numbers) },
			set: func(c *Config, v string) error { c.Alerts.Numbers = ParseNumbers(v); return nil }},
		{Key: "alerts.patterns", Tab: "Advanced", Label: "Recognition patterns", Help: "one wording per line (or separated by |)",
			get: func(c *Config) string { return strings.Join(c.Alerts.Patterns, "|") },
			set: func(c *Config, v string) error {
				c.Alerts.Patterns = nil
				for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == '|' || r == '\n' }) {
					if p = strings.TrimSpace(p); p != "" {
						c.Alerts.Patterns = append(c.Alerts.Patterns, p)
					}
				}
				return nil
			}},
		field("alerts.sound", "Advanced", "Alarm sound", "loop an alarm until acknowledged",
			func() (func(*Config) string, func(*Config, string) error) {
				return boolean("Alarm sound", func(c *Config) *bool { return &c.Alerts.Sound })
			}),
		field("alerts.retentionDays", "Advanced", "Alert log retention (days)", "0 keeps forever",
			func() (func(*Config) string, func(*Config, string) error) {
				return num("Alert log retention", func(c *Config) *int { return &c.Alerts.RetentionDays })
			}),
		field("workstationId", "Advanced", "Workstation ID", "stable name of this desk",
			func() (func(*Config) string, func(*Config, string) error) {
				return str(func(c *Config) *string { return &c.WorkstationID })
			}),
	}
	for _, s := range Scopes {
		s := s
		fs = append(fs, Field{Key: "permissions." + s, Tab: "Permissions", Label: s, Help: ScopeNeeds[s],
			get: func(c *Config) string { return strconv.FormatBool(c.Permissions.Scopes[s]) },
			set: func(c *Config, v string) error {
				b, err := strconv.ParseBool(strings.TrimSpace(v))
				if err != nil {
					return fmt.Errorf("%s must be true or false, got %q", s, v)
				}
				c.Permissions.Scopes[s] = b
				return nil
			}})
	}
	return fs
}()

// LookupField finds a field by key (case-insensitive).
func LookupField(key string) (Field, error) {
	for _, f := range Fields {
		if strings.EqualFold(f.Key, key) {
			return f, nil
		}
	}
	var keys []string
	for _, f := range Fields {
		keys = append(keys, f.Key)
	}
	if strings.Contains(strings.ToLower(key), "secret") || strings.Contains(strings.ToLower(key), "connection") {
		return Field{}, fmt.Errorf("%q is a secret: set it with `emergencydesk secret set client-secret|connection-string` (reads stdin)", key)
	}
	slices.Sort(keys)
	return Field{}, fmt.Errorf("unknown setting %q; settings are: %s", key, strings.Join(keys, ", "))
}

// ParseNumbers parses "911,933:test".
func ParseNumbers(v string) []Number {
	var out []Number
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, tag, _ := strings.Cut(p, ":")
		out = append(out, Number{Number: strings.TrimSpace(n), Test: strings.EqualFold(strings.TrimSpace(tag), "test")})
	}
	return out
}

// FormatNumbers is the inverse of ParseNumbers.
func FormatNumbers(ns []Number) string {
	var parts []string
	for _, n := range ns {
		if n.Test {
			parts = append(parts, n.Number+":test")
		} else {
			parts = append(parts, n.Number)
		}
	}
	return strings.Join(parts, ",")
}
