package hub

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/msemu/emuca"
)

// Defaults used when Options leave a field empty.
const (
	DefaultNamespace  = "emulator-ns"
	DefaultHubName    = "teams-events"
	DefaultPartitions = 2
	DefaultKeyName    = "emergencydesk-listen"
	// Suffix is the global cloud's namespace host suffix.
	Suffix = "servicebus.windows.net"
	// User is the fixed SASL PLAIN user name of the Event Hubs Kafka endpoint.
	User = "$ConnectionString"
)

// Options configure a Hub.
type Options struct {
	Namespace  string    // namespace name without suffix; default emulator-ns
	HubName    string    // event hub (Kafka topic) name; default teams-events
	Partitions int       // default 2
	CA         *emuca.CA // issues the TLS leaf; nil creates a fresh CA
	// Basic emulates a Basic-tier namespace: no Kafka endpoint (see doc.go).
	Basic   bool
	KeyName string // SharedAccessKeyName; default emergencydesk-listen
	// NamespaceKey issues a namespace-level connection string (no
	// EntityPath, policy RootManageSharedAccessKey), valid for any hub.
	NamespaceKey bool
	// Port is the loopback port to listen on; 0 picks a free one.
	Port   int
	Logger *slog.Logger
}

// Hub is a running emulated Event Hubs Kafka endpoint.
type Hub struct {
	opts    Options
	ca      *emuca.CA
	host    string
	connStr string
	addr    string

	cluster *kfake.Cluster
	vl      *memListener
	pub     *kgo.Client
	rr      atomic.Uint32

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*trackedConn]struct{}
	accepted sync.WaitGroup
	running  bool
	closed   bool
}

// Caps returns Event Hubs' Kafka protocol caps as seen on the live service:
// ApiVersions ≤ v3 (v4 resets the connection), Metadata ≤ v9, OffsetFetch
// ≤ v8, and no OffsetForLeaderEpoch (Standard tier).
func Caps() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(18, 3)  // ApiVersions
	v.SetMaxKeyVersion(3, 9)   // Metadata
	v.SetMaxKeyVersion(9, 8)   // OffsetFetch
	v.SetMaxKeyVersion(23, -1) // OffsetForLeaderEpoch: absent on Standard
	return v
}

// New starts a hub listening on 127.0.0.1.
func New(opts Options) (*Hub, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.HubName == "" {
		opts.HubName = DefaultHubName
	}
	if opts.Partitions == 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.Partitions < 1 || opts.Partitions > 1024 {
		return nil, fmt.Errorf("hub: partitions %d out of range 1..1024", opts.Partitions)
	}
	if opts.KeyName == "" {
		opts.KeyName = DefaultKeyName
		if opts.NamespaceKey {
			opts.KeyName = "RootManageSharedAccessKey"
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = emuca.New(); err != nil {
			return nil, fmt.Errorf("hub: CA: %w", err)
		}
	}
	h := &Hub{opts: opts, ca: ca, host: opts.Namespace + "." + Suffix, conns: map[*trackedConn]struct{}{}}
	h.connStr = fmt.Sprintf("Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=%s", h.host, opts.KeyName, randomB64(32))
	if !opts.NamespaceKey {
		h.connStr += ";EntityPath=" + opts.HubName
	}

	serverTLS, err := ca.ServerTLS(h.host, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("hub: TLS: %w", err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", opts.Port))
	if err != nil {
		return nil, fmt.Errorf("hub: listen: %w", err)
	}
	h.ln = ln
	h.addr = ln.Addr().String()
	h.vl = &memListener{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}

	internalPass := randomB64(24)
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("emulator-" + opts.Namespace),
		kfake.SeedTopics(int32(opts.Partitions), opts.HubName),
		kfake.TLS(serverTLS),
		kfake.EnableSASL(),
		// The emulated Graph writes as its own superuser, which the Basic
		// tier's ACL denial does not affect.
		kfake.Superuser("PLAIN", internalUser, internalPass),
		kfake.MaxVersions(withDeleteRecords(Caps())),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return h.vl, nil }),
	}
	if opts.Basic {
		kopts = append(kopts, kfake.EnableACLs(), kfake.User("PLAIN", User, h.connStr))
	} else {
		kopts = append(kopts, kfake.Superuser("PLAIN", User, h.connStr))
	}
	h.cluster, err = kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("hub: kfake: %w", err)
	}
	h.running = true
	h.accepted.Add(1)
	go h.accept(ln)

	h.pub, err = kgo.NewClient(
		kgo.SeedBrokers(h.addr),
		kgo.Dialer(h.dialInternal),
		kgo.SASL(plain.Auth{User: internalUser, Pass: internalPass}.AsMechanism()),
		kgo.MaxVersions(withDeleteRecords(Caps())),
		kgo.DefaultProduceTopic(opts.HubName),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hub: publisher: %w", err)
	}
	return h, nil
}

const internalUser = "emulator-graph"

// withDeleteRecords keeps DeleteRecords, which Event Hubs lacks, for the
// emulator's own Truncate (simulating retention); the app never sends it.
func withDeleteRecords(v *kversion.Versions) *kversion.Versions {
	v.SetMaxKeyVersion(21, 2)
	return v
}

// Addr is the host:port clients dial (the Cloud.KafkaBootstrap override).
func (h *Hub) Addr() string { return h.addr }

// Host is the namespace host name, e.g. emulator-ns.servicebus.windows.net;
// the TLS certificate covers it.
func (h *Hub) Host() string { return h.host }

// HubName is the event hub (topic) name.
func (h *Hub) HubName() string { return h.opts.HubName }

// Partitions is the hub's partition count.
func (h *Hub) Partitions() int { return h.opts.Partitions }

// CA is the authority that signed the hub's certificate.
func (h *Hub) CA() *emuca.CA { return h.ca }

// ConnectionString is the hub's "Connection string–primary key", the SASL
// password of the Kafka endpoint.
func (h *Hub) ConnectionString() string { return h.connStr }

// Basic reports whether the hub emulates a Basic-tier namespace.
func (h *Hub) Basic() bool { return h.opts.Basic }

func (h *Hub) accept(ln net.Listener) {
	defer h.accepted.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := &trackedConn{Conn: c, h: h}
		h.mu.Lock()
		if !h.running || h.closed {
			h.mu.Unlock()
			c.Close()
			continue
		}
		h.conns[tc] = struct{}{}
		h.mu.Unlock()
		select {
		case h.vl.ch <- tc:
		case <-h.vl.done:
			tc.Close()
			return
		}
	}
}

// dialInternal connects the emulated Graph to kfake over an in-memory pipe,
// unaffected by Stop.
func (h *Hub) dialInternal(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case h.vl.ch <- server:
	case <-h.vl.done:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
	cfg := h.ca.ClientTLS()
	cfg.ServerName = h.host
	return tls.Client(client, cfg), nil
}

// Stop simulates an outage: the listener closes and every client
// connection is cut. Records and published data are kept; Publish still
// works (Graph keeps retrying delivery).
func (h *Hub) Stop() {
	h.mu.Lock()
	if !h.running {
		h.mu.Unlock()
		return
	}
	h.running = false
	h.ln.Close()
	for c := range h.conns {
		c.Conn.Close()
	}
	clear(h.conns)
	h.mu.Unlock()
	h.accepted.Wait()
	h.opts.Logger.Info("emulated event hub stopped", "addr", h.addr)
}

// Start ends a simulated outage, listening again on the same address.
func (h *Hub) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("hub: closed")
	}
	if h.running {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("hub: listen again on %s: %w", h.addr, err)
	}
	h.ln = ln
	h.running = true
	h.accepted.Add(1)
	go h.accept(ln)
	h.opts.Logger.Info("emulated event hub started", "addr", h.addr)
	return nil
}

// Running reports whether the endpoint accepts connections.
func (h *Hub) Running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running
}

// Close shuts everything down.
func (h *Hub) Close() {
	h.Stop()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	if h.pub != nil {
		h.pub.Close()
	}
	h.cluster.Close()
	h.vl.Close()
}

// Record is a record for PublishRecords.
type Record struct {
	// Partition is the target partition; -1 lets the hub choose (by key,
	// else round-robin) as Graph's writes are spread.
	Partition int32
	Key       []byte
	Value     []byte
	// Timestamp is the record's CreateTime; zero means now.
	Timestamp time.Time
}

// Publish writes one record as Graph does: keyed records go to the key's
// partition, others round-robin.
func (h *Hub) Publish(ctx context.Context, key, value []byte) error {
	return h.PublishRecords(ctx, Record{Partition: -1, Key: key, Value: value})
}

// PublishRecords writes records and waits until all are acknowledged.
func (h *Hub) PublishRecords(ctx context.Context, recs ...Record) error {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		p := r.Partition
		if p < 0 {
			p = h.choose(r.Key)
		}
		if int(p) >= h.opts.Partitions {
			return fmt.Errorf("hub: partition %d does not exist (hub has %d)", p, h.opts.Partitions)
		}
		krs[i] = &kgo.Record{Partition: p, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	}
	return h.pub.ProduceSync(ctx, krs...).FirstErr()
}

func (h *Hub) choose(key []byte) int32 {
	n := uint32(h.opts.Partitions)
	if len(key) > 0 {
		f := fnv.New32a()
		f.Write(key)
		return int32(f.Sum32() % n)
	}
	return int32((h.rr.Add(1) - 1) % n)
}

// Truncate deletes the records of partition before offset, as retention
// would; consumers holding an older offset then find it aged out.
func (h *Hub) Truncate(ctx context.Context, partition int32, before int64) error {
	req := kmsg.NewPtrDeleteRecordsRequest()
	t := kmsg.NewDeleteRecordsRequestTopic()
	t.Topic = h.opts.HubName
	p := kmsg.NewDeleteRecordsRequestTopicPartition()
	p.Partition, p.Offset = partition, before
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, h.pub)
	if err != nil {
		return fmt.Errorf("hub: truncate: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("hub: truncate partition %d: %w", p.Partition, err)
			}
		}
	}
	return nil
}

// EndOffsets returns each partition's next offset (high watermark).
func (h *Hub) EndOffsets(ctx context.Context) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = h.opts.HubName
	for p := 0; p < h.opts.Partitions; p++ {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = int32(p), -1
		t.Partitions = append(t.Partitions, lp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, h.pub)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("hub: end offset of partition %d: %w", p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

func randomB64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; keep a unique value anyway.
		return hex.EncodeToString([]byte(time.Now().String()))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// memListener hands kfake the connections the hub accepted; its Addr is
// the real listener's, so kfake advertises the address clients dial.
type memListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

// trackedConn forgets itself when kfake closes it.
type trackedConn struct {
	net.Conn
	h *Hub
}

func (c *trackedConn) Close() error {
	c.h.mu.Lock()
	delete(c.h.conns, c)
	c.h.mu.Unlock()
	return c.Conn.Close()
}
