// Package hub emulates an Azure Event Hubs namespace's Kafka endpoint: a
// franz-go kfake cluster behind TLS and SASL PLAIN ($ConnectionString /
// the full connection string), one topic per event hub, Event Hubs'
// protocol caps, a Basic-tier mode that refuses Kafka, and Stop/Start to
// simulate an outage on the same address.
//
// Shape: the hub owns a real loopback TCP listener and hands accepted
// connections to kfake through an in-memory listener whose Addr is the
// real one, so kfake advertises the real address in Metadata. Stop closes
// the real listener and every client connection while the cluster (and its
// records) lives on; Start listens again on the same port, so clients
// reconnect exactly as they would after an Event Hubs outage. The emulated
// Graph writes through Publish over in-memory pipes, which keeps working
// while the endpoint is "down", as Graph retries delivery until the hub
// accepts it.
//
// Basic tier: a Basic namespace has no Kafka endpoint. Microsoft documents
// TOPIC_AUTHORIZATION_FAILED as the usual symptom, so in Basic mode SASL
// still succeeds but the $ConnectionString principal has no ACLs: Metadata,
// ListOffsets and Fetch on the hub answer TOPIC_AUTHORIZATION_FAILED.
package hub
