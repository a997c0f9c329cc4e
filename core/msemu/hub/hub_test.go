package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/msemu/emuca"
)

func newHub(t testing.TB, o Options) *Hub {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// client is an unmodified franz-go client configured as for Event Hubs.
func client(t testing.TB, h *Hub, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	tlsCfg := h.CA().ClientTLS()
	tlsCfg.ServerName = h.Host()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(h.Addr()),
		kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(plain.Auth{User: User, Pass: pass}.AsMechanism()),
		kgo.RetryTimeout(3 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func metadata(ctx context.Context, cl *kgo.Client, topic string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	return req.RequestWith(ctx, cl)
}

func TestConnectionStringAndTopic(t *testing.T) {
	h := newHub(t, Options{Namespace: "contoso-teams", HubName: "alerts", Partitions: 3})
	cs := h.ConnectionString()
	for _, want := range []string{"Endpoint=sb://contoso-teams.servicebus.windows.net/;", "SharedAccessKeyName=" + DefaultKeyName + ";", "SharedAccessKey=", ";EntityPath=alerts"} {
		if !strings.Contains(cs, want) {
			t.Errorf("connection string %q lacks %q", cs, want)
		}
	}
	if !strings.HasPrefix(h.Addr(), "127.0.0.1:") {
		t.Errorf("listening on %s, want loopback", h.Addr())
	}
	ctx := context.Background()
	resp, err := metadata(ctx, client(t, h, cs), "alerts")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata: %+v", resp.Topics)
	}
	if resp.GetVersion() > 9 {
		t.Errorf("Metadata v%d answered; Event Hubs caps at v9", resp.GetVersion())
	}
}

func TestCapsAdvertised(t *testing.T) {
	h := newHub(t, Options{})
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(context.Background(), client(t, h, h.ConnectionString()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int16]int16{18: 3, 3: 9, 9: 8}
	for _, k := range resp.ApiKeys {
		if w, ok := want[k.ApiKey]; ok && k.MaxVersion > w {
			t.Errorf("key %d max v%d, want ≤ v%d", k.ApiKey, k.MaxVersion, w)
		}
		if k.ApiKey == 23 {
			t.Errorf("OffsetForLeaderEpoch advertised; Event Hubs Standard has none")
		}
	}
}

func TestWrongKeyClosesConnection(t *testing.T) {
	h := newHub(t, Options{})
	bad := strings.Replace(h.ConnectionString(), "SharedAccessKey=", "SharedAccessKey=x", 1)
	_, err := metadata(context.Background(), client(t, h, bad), h.HubName())
	if err == nil {
		t.Fatal("wrong key accepted")
	}
	var fre *kgo.ErrFirstReadEOF
	if !errors.As(err, &fre) {
		t.Logf("error (not ErrFirstReadEOF): %v", err)
	}
}

func TestBasicTierRefusesKafka(t *testing.T) {
	h := newHub(t, Options{Basic: true})
	resp, err := metadata(context.Background(), client(t, h, h.ConnectionString()), h.HubName())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || !errors.Is(kerr.ErrorForCode(resp.Topics[0].ErrorCode), kerr.TopicAuthorizationFailed) {
		t.Fatalf("Basic tier metadata: %+v, want TOPIC_AUTHORIZATION_FAILED", resp.Topics)
	}
	// Graph still writes (over AMQP in reality).
	if err := h.Publish(context.Background(), nil, []byte(`{"value":[]}`)); err != nil {
		t.Fatal(err)
	}
}

func TestStopStartSameAddress(t *testing.T) {
	h := newHub(t, Options{Partitions: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := client(t, h, h.ConnectionString(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{h.HubName(): {0: kgo.NewOffset().AtStart()}}), kgo.RetryTimeout(0))
	if err := h.Publish(ctx, nil, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if fs := cl.PollFetches(ctx); fs.NumRecords() != 1 {
		t.Fatalf("got %d records: %v", fs.NumRecords(), fs.Errors())
	}
	addr := h.Addr()
	h.Stop()
	if h.Running() {
		t.Fatal("running after Stop")
	}
	// Publishing during the outage still lands (Graph retries).
	if err := h.Publish(ctx, nil, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	if h.Addr() != addr {
		t.Fatalf("address changed %s → %s", addr, h.Addr())
	}
	if fs := cl.PollFetches(ctx); fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "two" {
		t.Fatalf("after restart got %d records: %v", fs.NumRecords(), fs.Errors())
	}
}

func TestTruncateAndPartitions(t *testing.T) {
	h := newHub(t, Options{Partitions: 2})
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour)
	if err := h.PublishRecords(ctx, Record{Partition: 1, Value: []byte("a"), Timestamp: old}, Record{Partition: 1, Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := h.PublishRecords(ctx, Record{Partition: 2, Value: []byte("x")}); err == nil {
		t.Fatal("partition 2 of 2 accepted")
	}
	end, err := h.EndOffsets(ctx)
	if err != nil || end[0] != 0 || end[1] != 2 {
		t.Fatalf("end offsets %v %v", end, err)
	}
	if err := h.Truncate(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkStart(b *testing.B) {
	ca, err := emuca.New()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h, err := New(Options{CA: ca})
		if err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}
