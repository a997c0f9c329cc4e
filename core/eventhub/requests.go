package eventhub

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionCount asks Metadata for the hub's partitions.
func partitionCount(ctx context.Context, cl *kgo.Client, hub string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(hub)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != hub {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return 0, fmt.Errorf("metadata for %q: %w", hub, err)
		}
		if len(rt.Partitions) == 0 {
			return 0, fmt.Errorf("metadata for %q: %w", hub, kerr.UnknownTopicOrPartition)
		}
		return len(rt.Partitions), nil
	}
	return 0, fmt.Errorf("metadata for %q: %w", hub, kerr.UnknownTopicOrPartition)
}

// listOffsets resolves ts (-2 oldest, -1 end, else first offset at or
// after ts milliseconds; -1 when none) for every partition.
func listOffsets(ctx context.Context, cl *kgo.Client, hub string, parts int, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = hub
	for p := 0; p < parts; p++ {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = int32(p), ts
		t.Partitions = append(t.Partitions, lp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, parts)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("offsets of %q partition %d: %w", hub, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	if len(out) != parts {
		return nil, fmt.Errorf("offsets of %q: %d of %d partitions answered", hub, len(out), parts)
	}
	return out, nil
}

// MaxRecordBytes is the largest record accepted; Graph never puts more
// than 1 MB in the hub.
const MaxRecordBytes = 1 << 20

var valueKey = []byte(`"value"`)

// Malformed returns why a record value cannot be a Graph notification
// collection, or "" when it looks like one. It is a cheap structural check
// (size, UTF-8, a JSON object with a "value" array); full parsing happens
// downstream.
func Malformed(v []byte) string {
	if len(v) > MaxRecordBytes {
		return fmt.Sprintf("larger than 1 MiB (%d bytes)", len(v))
	}
	b := bytes.TrimSpace(v)
	if len(b) == 0 {
		return "empty"
	}
	if !utf8.Valid(b) {
		return "not valid UTF-8"
	}
	if b[0] != '{' || b[len(b)-1] != '}' {
		return "not a JSON object"
	}
	i := bytes.Index(b, valueKey)
	if i < 0 {
		return `not a notification collection (no "value" array)`
	}
	rest := bytes.TrimLeft(b[i+len(valueKey):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return `not a notification collection (no "value" array)`
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '[' {
		return `not a notification collection ("value" is not an array)`
	}
	return ""
}

// ProbeResult is what diagnostics shows about the hub.
type ProbeResult struct {
	Addr           string // dialled address
	ServerName     string // TLS name verified
	PartitionCount int
	StartOffsets   map[int32]int64 // oldest retained
	EndOffsets     map[int32]int64 // next offset to be written
	Stored         map[int32]int64 // this desk's positions (nil without a store)
	// Lag is records not yet read per partition (end − stored; end − oldest
	// for a partition this desk never read).
	Lag     map[int32]int64
	Elapsed time.Duration
}

// Probe connects, signs in and reads the hub's partitions and offsets
// without consuming. store may be nil. Errors are *Error (see Classify).
func Probe(ctx context.Context, conn Conn, store OffsetStore, log *slog.Logger) (ProbeResult, error) {
	start := time.Now()
	if log == nil {
		log = slog.Default()
	}
	r, err := conn.resolve()
	if err != nil {
		return ProbeResult{}, err
	}
	res := ProbeResult{Addr: r.addr, ServerName: r.serverName}
	hh := newHealthHook(conn.HubName, nil)
	defer hh.stop()
	cl, err := kgo.NewClient(append(r.clientOpts(conn.ClientID, log, hh), kgo.RetryTimeout(10*time.Second))...)
	if err != nil {
		return res, &Error{classify(err, conn.HubName), err}
	}
	defer cl.Close()
	wrap := func(err error) error {
		p := classify(err, conn.HubName)
		// A connection cut during sign-in surfaces as a generic error from
		// the request; the hook saw which request it was.
		if h := hh.get(); h.Problem.Kind == KindAuth && p.Kind != KindAuth {
			p = h.Problem
		}
		return &Error{p, err}
	}
	if res.PartitionCount, err = partitionCount(ctx, cl, conn.HubName); err != nil {
		return res, wrap(err)
	}
	if res.StartOffsets, err = listOffsets(ctx, cl, conn.HubName, res.PartitionCount, -2); err != nil {
		return res, wrap(err)
	}
	if res.EndOffsets, err = listOffsets(ctx, cl, conn.HubName, res.PartitionCount, -1); err != nil {
		return res, wrap(err)
	}
	if store != nil {
		if res.Stored, err = store.LoadOffsets(ctx, conn.HubName); err != nil {
			return res, &Error{Problem{KindOther, "cannot read this desk's stored positions: " + err.Error(), "check the alert log database"}, err}
		}
	}
	res.Lag = make(map[int32]int64, res.PartitionCount)
	for p, end := range res.EndOffsets {
		from := res.StartOffsets[p]
		if o, ok := res.Stored[p]; ok && o > from {
			from = o
		}
		res.Lag[p] = max(end-from, 0)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
