package diagnose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"emergencydesk/core/eventhub"
	"emergencydesk/core/secrets"
)

const basicTierFix = "Basic tier has no Kafka endpoint (the install guide's \"Basic (sufficient for most deployments)\" does not work with this app): Azure Portal → your Event Hubs namespace → Settings → Scale → Pricing tier → Standard (or higher). If the namespace is already Standard, the shared access policy of the connection string needs Listen."

// hubState is what the Event Hub checks learned, for the end-to-end check.
type hubState struct {
	conn  eventhub.Conn
	probe eventhub.ProbeResult
}

// checkHub probes the hub once and splits the answer into the sign-in,
// topic and lag checks.
func (r *runner) checkHub(ctx context.Context) {
	const (
		tAuth  = "Event Hub: Kafka sign-in (SASL) and tier"
		tTopic = "Event Hub: topic, partitions and EntityPath"
		tLag   = "Event Hub: this desk's position (lag) per partition"
	)
	skipRest := func(reason string) {
		r.skip(IDHubTopic, tTopic, reason)
		r.skip(IDHubLag, tLag, reason)
	}
	var probe eventhub.ProbeResult
	var probeErr error
	var conn eventhub.Conn
	auth := r.run(ctx, IDHubAuth, tAuth, func(ctx context.Context) Check {
		if !r.settingsOK {
			return Check{Status: Skip, Detail: "skipped: the settings are not valid (see " + IDSettings + ")"}
		}
		if s := r.need(IDTLSEventHub); s != "" {
			return Check{Status: Skip, Detail: s}
		}
		raw, err := readSecret(r.deps.Vault, secrets.ConnectionString)
		if err != nil {
			return Check{Status: Skip, Detail: "skipped: the connection string cannot be read"}
		}
		conn, err = eventhub.ConnFromConfig(r.cfg, raw)
		if err != nil {
			return Check{Status: Fail, Detail: err.Error(), Fix: extraCAHow}
		}
		addr, _ := r.cfg.Bootstrap(r.cs)
		if as := r.resolvedAddrs(addr); len(as) > 0 {
			conn.Bootstrap = as[0] // the address the TLS check reached
		}
		probe, probeErr = r.deps.HubProbe(ctx, conn, r.deps.Offsets, r.log)
		if probeErr == nil {
			return Check{Status: Pass, Detail: fmt.Sprintf("signed in to %s as $ConnectionString (policy %s) over TLS; the hub answers Kafka requests", r.cs.Host, r.cs.KeyName)}
		}
		p := eventhub.Classify(probeErr)
		switch {
		case errors.Is(probeErr, kerr.TopicAuthorizationFailed) || errors.Is(probeErr, kerr.ClusterAuthorizationFailed):
			return Check{Status: Fail, Detail: "the SASL sign-in was accepted, but the namespace refuses Kafka access to the event hub (TOPIC_AUTHORIZATION_FAILED): this is how a Basic-tier namespace answers, since Basic has no Kafka endpoint; a policy without Listen answers the same way", Fix: basicTierFix}
		case p.Kind == eventhub.KindTopic:
			return Check{Status: Pass, Detail: fmt.Sprintf("signed in to %s (policy %s)", r.cs.Host, r.cs.KeyName)}
		case p.Kind == eventhub.KindAuth:
			return Check{Status: Fail, Detail: p.Summary + "; the key may be wrong or regenerated, or the namespace is Basic tier (no Kafka endpoint)",
				Fix: "Connection string invalid: copy \"Connection string–primary key\" again from Event Hubs → " + r.cfg.EventHub.Name + " → Shared access policies (a policy with Listen; it includes EntityPath). " + basicTierFix}
		case ctx.Err() != nil:
			return Check{Status: Fail, Detail: fmt.Sprintf("the hub did not answer Kafka requests within %s", roundDur(r.opts.CheckTimeout)), Fix: guideFW9093}
		}
		return Check{Status: Fail, Detail: p.Summary, Fix: p.Fix}
	})
	if auth.Status != Pass {
		skipRest("skipped: depends on " + IDHubAuth + ", which did not pass")
		return
	}
	topic := r.run(ctx, IDHubTopic, tTopic, func(context.Context) Check {
		if probeErr != nil {
			p := eventhub.Classify(probeErr)
			return Check{Status: Fail, Detail: fmt.Sprintf("event hub %q does not exist in namespace %s (%s)", r.cfg.EventHub.Name, r.cs.Host, p.Summary),
				Fix: "check Event Hub Name: it must be the hub's name exactly as in Azure Portal → your namespace → Event Hubs (and the connection string's EntityPath); use the event hub's own shared access policy, whose connection string includes EntityPath"}
		}
		var lines []string
		var fixes []string
		status := Pass
		lines = append(lines, fmt.Sprintf("event hub %q exists with %d partitions", r.cfg.EventHub.Name, probe.PartitionCount))
		if probe.PartitionCount != r.cfg.EventHub.PartitionCount {
			status = Warn
			lines = append(lines, fmt.Sprintf("the Partition Count setting is %d but the hub has %d (the desk reads every partition it finds, but the setting should match)", r.cfg.EventHub.PartitionCount, probe.PartitionCount))
			fixes = append(fixes, fmt.Sprintf("set Partition Count to %d on the Event Hub tab", probe.PartitionCount))
		}
		switch r.cs.EntityPath {
		case "":
			status = Warn
			lines = append(lines, "the connection string has no EntityPath (it is a namespace-level policy)")
			fixes = append(fixes, "Connection string invalid per the guide: use the event hub's own policy (Event Hubs → "+r.cfg.EventHub.Name+" → Shared access policies → Connection string–primary key), which includes EntityPath")
		default:
			lines = append(lines, "EntityPath matches: "+r.cs.EntityPath)
		}
		return Check{Status: status, Detail: strings.Join(lines, "\n"), Fix: strings.Join(fixes, "\n")}
	})
	if topic.Status != Pass && topic.Status != Warn {
		r.skip(IDHubLag, tLag, "skipped: depends on "+IDHubTopic+", which did not pass")
		return
	}
	r.mu.Lock()
	r.hub = &hubState{conn: conn, probe: probe}
	r.mu.Unlock()
	r.run(ctx, IDHubLag, tLag, func(context.Context) Check {
		parts := make([]int32, 0, len(probe.Lag))
		for p := range probe.Lag {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		var lines []string
		var total int64
		for _, p := range parts {
			pos := "never read it"
			if o, ok := probe.Stored[p]; ok {
				pos = fmt.Sprintf("is at %d", o)
			}
			lines = append(lines, fmt.Sprintf("partition %d: %d records waiting (retained offsets %d..%d; this desk %s)", p, probe.Lag[p], probe.StartOffsets[p], probe.EndOffsets[p], pos))
			total += probe.Lag[p]
		}
		if r.deps.Offsets == nil {
			lines = append(lines, "this desk's positions were not available to diagnostics")
		}
		if total > 1000 {
			return Check{Status: Warn, Detail: strings.Join(lines, "\n"), Fix: "the desk is far behind: make sure it is running and connected; it catches up on its own"}
		}
		return Check{Status: Pass, Detail: strings.Join(lines, "\n")}
	})
}
