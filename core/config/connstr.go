package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ConnString is a parsed Event Hubs connection string. String never
// reveals the key.
type ConnString struct {
	Namespace   string // e.g. contoso-teams
	Host        string // e.g. contoso-teams.servicebus.windows.net
	KeyName     string
	Key         string
	EntityPath  string // "" when the string is namespace-level
	CloudSuffix string // e.g. servicebus.windows.net
	raw         string
}

// Raw returns the full connection string (the Kafka SASL password).
func (c ConnString) Raw() string { return c.raw }

// Bootstrap is the Kafka bootstrap address: <namespace host>:9093.
func (c ConnString) Bootstrap() string { return net.JoinHostPort(c.Host, "9093") }

// String describes the connection string without its key.
func (c ConnString) String() string {
	s := fmt.Sprintf("Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=****", c.Host, c.KeyName)
	if c.EntityPath != "" {
		s += ";EntityPath=" + c.EntityPath
	}
	return s
}

// ServiceBusSuffixes are the namespace host suffixes of each cloud.
var ServiceBusSuffixes = []string{"servicebus.windows.net", "servicebus.usgovcloudapi.net", "servicebus.chinacloudapi.cn"}

// ErrConnString marks every connection string problem.
var ErrConnString = errors.New("connection string")

// ParseConnString parses and checks an Event Hubs connection string. When
// hub is not empty, EntityPath (if present) must equal it. Errors describe
// the problem and never include the key.
func ParseConnString(s, hub string) (ConnString, error) {
	const example = "Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<policy>;SharedAccessKey=<key>;EntityPath=<event hub>"
	s = strings.TrimSpace(s)
	if s == "" {
		return ConnString{}, fmt.Errorf("%w is empty: copy \"Connection string–primary key\" from the Event Hub's Shared access policies (%s)", ErrConnString, example)
	}
	cs := ConnString{raw: s}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return ConnString{}, fmt.Errorf("%w has a part without \"=\" (expected Key=Value pairs separated by \";\", like %s)", ErrConnString, example)
		}
		key := strings.ToLower(strings.TrimSpace(k))
		seen[key] = true
		switch key {
		case "endpoint":
			host, err := endpointHost(v)
			if err != nil {
				return ConnString{}, err
			}
			cs.Host = host
		case "sharedaccesskeyname":
			cs.KeyName = v
		case "sharedaccesskey":
			cs.Key = v
		case "entitypath":
			cs.EntityPath = v
		case "sharedaccesssignature":
			return ConnString{}, fmt.Errorf("%w uses a SharedAccessSignature; the Kafka endpoint needs a policy key: use \"Connection string–primary key\" of a Shared access policy with Listen", ErrConnString)
		}
	}
	var missing []string
	if cs.Host == "" {
		missing = append(missing, "Endpoint")
	}
	if cs.KeyName == "" {
		missing = append(missing, "SharedAccessKeyName")
	}
	if cs.Key == "" {
		missing = append(missing, "SharedAccessKey")
	}
	if len(missing) > 0 {
		return ConnString{}, fmt.Errorf("%w is missing %s (expected %s)", ErrConnString, strings.Join(missing, ", "), example)
	}
	suffix := ""
	for _, sfx := range ServiceBusSuffixes {
		if strings.HasSuffix(cs.Host, "."+sfx) {
			suffix = sfx
		}
	}
	if suffix == "" {
		return ConnString{}, fmt.Errorf("%w Endpoint host %q is not an Event Hubs namespace (it must end in .%s)", ErrConnString, cs.Host, strings.Join(ServiceBusSuffixes, ", ."))
	}
	cs.CloudSuffix = suffix
	cs.Namespace = strings.TrimSuffix(cs.Host, "."+suffix)
	if cs.Namespace == "" || strings.Contains(cs.Namespace, ".") {
		return ConnString{}, fmt.Errorf("%w Endpoint host %q must be <namespace>.%s", ErrConnString, cs.Host, suffix)
	}
	if hub != "" && cs.EntityPath != "" && cs.EntityPath != hub {
		return ConnString{}, fmt.Errorf("%w is for event hub %q (EntityPath) but the Event Hub Name setting is %q: use the connection string of %q, or change the Event Hub Name", ErrConnString, cs.EntityPath, hub, hub)
	}
	return cs, nil
}

func endpointHost(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(strings.ToLower(v), "sb://") {
		return "", fmt.Errorf("%w Endpoint must start with sb:// (e.g. Endpoint=sb://<namespace>.servicebus.windows.net/)", ErrConnString)
	}
	host := strings.TrimRight(v[len("sb://"):], "/")
	if host == "" || strings.ContainsAny(host, "/ ") {
		return "", fmt.Errorf("%w Endpoint %q is not sb://<namespace>.servicebus.windows.net/", ErrConnString, v)
	}
	return strings.ToLower(host), nil
}
