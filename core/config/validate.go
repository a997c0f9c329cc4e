package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Severity of a problem.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Problem is one thing wrong with one field.
type Problem struct {
	Field    string   `json:"field"` // a key as used by `config set`, e.g. oauth.clientId
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Field, p.Severity, p.Message) }

// Problems is every problem found.
type Problems []Problem

// Errors returns only the errors.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

// For returns the problems of one field.
func (ps Problems) For(field string) Problems {
	var out Problems
	for _, p := range ps {
		if p.Field == field {
			out = append(out, p)
		}
	}
	return out
}

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$`)
	// Event Hub names: letters, digits, periods, hyphens, underscores; start
	// and end with a letter or digit; up to 256 characters.
	hubRE    = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,254}[a-zA-Z0-9])?$`)
	numberRE = regexp.MustCompile(`^[0-9]{2,6}$`)
)

// Validate checks the settings (not the secrets) and returns every problem.
func (c Config) Validate() Problems {
	var ps Problems
	add := func(field string, sev Severity, format string, a ...any) {
		ps = append(ps, Problem{Field: field, Severity: sev, Message: fmt.Sprintf(format, a...)})
	}
	if c.OAuth.ClientID == "" {
		add("oauth.clientId", Error, "Client ID is required: copy \"Application (client) ID\" from Azure Portal → App registrations → Overview (a GUID like 11111111-2222-3333-4444-555555555555)")
	} else if !guidRE.MatchString(c.OAuth.ClientID) {
		add("oauth.clientId", Error, "Client ID %q is not a GUID: copy \"Application (client) ID\" from the app registration's Overview page (like 11111111-2222-3333-4444-555555555555)", c.OAuth.ClientID)
	}
	switch t := c.OAuth.TenantID; {
	case t == "":
		add("oauth.tenantId", Error, "Tenant ID is required: copy \"Directory (tenant) ID\" from the app registration's Overview page, or use a verified domain such as contoso.onmicrosoft.com")
	case strings.EqualFold(t, "common") || strings.EqualFold(t, "organizations") || strings.EqualFold(t, "consumers"):
		add("oauth.tenantId", Error, "Tenant ID %q is a multi-tenant alias; the app registration is single tenant: use the Directory (tenant) ID GUID or a verified domain", t)
	case !guidRE.MatchString(t) && !domainRE.MatchString(t):
		add("oauth.tenantId", Error, "Tenant ID %q is neither a GUID nor a domain: use the Directory (tenant) ID (like 11111111-2222-3333-4444-555555555555) or a verified domain (like contoso.onmicrosoft.com)", t)
	}
	if m := c.OAuth.RefreshTokenExpirationMinutes; m < 60 || m > 129600 {
		add("oauth.refreshTokenExpirationMinutes", Error, "Refresh Token Expiration Minutes must be between 60 and 129600 (90 days); the guide's default is %d", DefaultRefreshTokenExpirationMinutes)
	}
	if c.Subscription.DeliveryMode != DeliveryEventHub {
		add("subscription.deliveryMode", Error, "Delivery Mode %q is not supported: the only mode is %q (Event Hub)", c.Subscription.DeliveryMode, DeliveryEventHub)
	}
	if m := c.Subscription.TimeoutMinutes; m < 45 || m > MaxSubscriptionTimeoutMinutes {
		add("subscription.timeoutMinutes", Error, "Subscription Timeout Minutes must be between 45 and %d (Graph's maximum for Teams chat messages, 3 days); the guide's default is %d", MaxSubscriptionTimeoutMinutes, DefaultSubscriptionTimeoutMinutes)
	}
	if !c.EventHub.Enabled {
		add("eventHub.enabled", Error, "Event Hub integration is disabled: it is the only way alerts are delivered, so no alert can arrive; enable it")
	}
	if !hubRE.MatchString(c.EventHub.Name) {
		add("eventHub.name", Error, "Event Hub Name %q is not valid: use the hub's name as shown in the namespace (letters, digits, '.', '-', '_'; e.g. %s)", c.EventHub.Name, DefaultEventHubName)
	}
	if g := c.EventHub.ConsumerGroup; g == "" || len(g) > 200 || strings.ContainsAny(g, " /\\") {
		add("eventHub.consumerGroup", Error, "Consumer Group %q is not valid: use a name without spaces or slashes (default %s)", g, DefaultConsumerGroup)
	}
	if n := c.EventHub.PartitionCount; n < 1 || n > 1024 {
		add("eventHub.partitionCount", Error, "Partition Count must be the hub's partition count, between 1 and 1024 (the guide recommends %d)", DefaultPartitionCount)
	}
	if m := c.EventHub.MissedWindowMinutes; m < 0 || m > 7*24*60 {
		add("eventHub.missedWindowMinutes", Error, "missed-while-offline window must be between 0 and 10080 minutes (7 days); default %d", DefaultMissedWindowMinutes)
	}
	for _, s := range Scopes {
		if !c.Permissions.Scopes[s] {
			add("permissions."+s, Warning, "%s is unchecked: %s", s, ScopeNeeds[s])
		}
	}
	if _, ok := LookupProfile(c.Cloud.Profile); !ok {
		add("cloud.profile", Error, "cloud %q is unknown: use one of global, usgov, usdod, china", c.Cloud.Profile)
	}
	for _, f := range []struct{ key, val string }{{"cloud.authorityUrl", c.Cloud.AuthorityURL}, {"cloud.graphUrl", c.Cloud.GraphURL}} {
		if f.val == "" {
			continue
		}
		u, err := url.Parse(f.val)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			add(f.key, Error, "%q must be an https:// URL such as https://login.microsoftonline.com (leave empty to use the cloud's default)", f.val)
		}
	}
	if b := c.Cloud.KafkaBootstrap; b != "" {
		if h, p, err := net.SplitHostPort(b); err != nil || h == "" || p == "" {
			add("cloud.kafkaBootstrap", Error, "%q must be host:port, e.g. 10.1.2.3:9093 (leave empty to use <namespace>.servicebus.windows.net:9093)", b)
		}
	}
	if f := c.Cloud.ExtraCABundle; f != "" {
		if data, err := os.ReadFile(f); err != nil {
			add("cloud.extraCaBundle", Error, "extra CA bundle %s cannot be read: %v", f, err)
		} else if !strings.Contains(string(data), "-----BEGIN CERTIFICATE-----") {
			add("cloud.extraCaBundle", Error, "extra CA bundle %s holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)", f)
		}
	}
	if len(c.Alerts.Numbers) == 0 {
		add("alerts.numbers", Error, "no emergency numbers: add at least 911 (and 933 as test)")
	}
	for _, n := range c.Alerts.Numbers {
		if !numberRE.MatchString(n.Number) {
			add("alerts.numbers", Error, "emergency number %q must be 2 to 6 digits, like 911, 112 or 933", n.Number)
		}
	}
	if len(c.Alerts.Patterns) == 0 {
		add("alerts.patterns", Error, "no recognition patterns: add at least %q", DefaultPattern)
	}
	for _, p := range c.Alerts.Patterns {
		if len(strings.Fields(p)) == 0 {
			add("alerts.patterns", Error, "a recognition pattern is blank: remove it or type the wording, e.g. %q", DefaultPattern)
		}
	}
	if c.Alerts.RetentionDays < 0 {
		add("alerts.retentionDays", Error, "retention must be 0 (keep forever) or a number of days")
	}
	if c.WorkstationID == "" || strings.ContainsAny(c.WorkstationID, " /\\") {
		add("workstationId", Error, "workstation ID %q must be a non-empty name without spaces or slashes", c.WorkstationID)
	}
	return ps
}

// ValidateConnString checks the connection string against these settings
// and returns its problems under the eventHub.connectionString field.
func (c Config) ValidateConnString(raw string) (ConnString, Problems) {
	cs, err := ParseConnString(raw, c.EventHub.Name)
	if err != nil {
		return cs, Problems{{Field: "eventHub.connectionString", Severity: Error, Message: err.Error()}}
	}
	var ps Problems
	if p, ok := LookupProfile(c.Cloud.Profile); ok && p.ServiceBusSuffix != cs.CloudSuffix &&
		!(p.Name == CloudUSDoD && cs.CloudSuffix == "servicebus.usgovcloudapi.net") {
		ps = append(ps, Problem{Field: "eventHub.connectionString", Severity: Error,
			Message: fmt.Sprintf("the namespace %s is in another cloud than the selected %s cloud (expected .%s)", cs.Host, p.Label, p.ServiceBusSuffix)})
	}
	if cs.EntityPath == "" {
		ps = append(ps, Problem{Field: "eventHub.connectionString", Severity: Warning,
			Message: "the connection string has no EntityPath: the guide asks for the event hub's own policy (Event Hubs → " + c.EventHub.Name + " → Shared access policies), which includes EntityPath"})
	}
	return cs, ps
}

// Bootstrap returns the Kafka address to dial and the TLS server name to
// verify for this connection string.
func (c Config) Bootstrap(cs ConnString) (addr, serverName string) {
	if c.Cloud.KafkaBootstrap != "" {
		return c.Cloud.KafkaBootstrap, cs.Host
	}
	return cs.Bootstrap(), cs.Host
}
