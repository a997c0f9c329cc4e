// Package eventhub reads Microsoft Graph change notifications from an Azure
// Event Hub's Kafka endpoint (SASL_SSL PLAIN on port 9093) and hands them,
// at least once and in offset order per partition, to the alert pipeline.
//
// # Every desk sees every alert: group-less consumption
//
// Kafka consumer groups split partitions between members: two desks that
// share a group id (the guide's "$Default" invites exactly that) would each
// miss half the alerts. This package therefore uses no consumer group at
// all. Each desk assigns itself every partition of the hub
// (kgo.ConsumePartitions, partition count discovered from Metadata) and
// keeps its own position in an OffsetStore, which the alert log implements
// in the same SQLite database (and transaction) as the alerts. Consequences:
//
//   - every desk reads every partition, whatever the Consumer Group setting;
//   - no group rebalances: a desk restarted after kill -9 resumes at once,
//     where a group member would stall until its old session times out
//     (seen with kfake: well over 30 s with franz-go's defaults);
//   - Event Hubs' offset-commit throttle (4 commits/s per partition) and
//     its 1,000 Kafka groups per namespace are irrelevant; session and
//     rebalance timeouts (Microsoft recommends 30 s) do not apply.
//
// GroupID returns "" and ModeDescription the sentence the settings screen
// shows instead of a group id.
//
// # Delivery
//
// Offsets are saved only after the Handler returned nil for the whole batch
// (at least once; duplicates after a crash are removed downstream by message
// id). A failing handler is retried with the same records, with backoff,
// forever: an alert is never skipped. On the first start (no stored
// offsets) each partition starts at the first record of the last
// MissedWindow; later starts resume exactly; an offset that aged out of
// retention resumes at the oldest record, with a log line. Records whose
// timestamp is before the consumer started are flagged MissedWhileOffline.
// Malformed records (over 1 MiB, invalid UTF-8, not a JSON notification
// collection) are logged with partition/offset and skipped, but their
// offsets still advance.
//
// # Health and errors
//
// franz-go hooks feed a Health (connecting, connected, degraded, failed,
// with the reason and the time of the last record). Classify maps errors to
// what the administrator must fix; Probe answers the diagnostics screen.
package eventhub
