package eventhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one hub record handed to the pipeline.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp time.Time // when the hub received it (Graph's send time)
	Key       []byte
	Value     []byte
	// MissedWhileOffline is set for records written before this consumer
	// started: the desk was not running when they arrived.
	MissedWhileOffline bool
}

// Handler receives batches in offset order per partition. Returning nil
// means the batch is durably recorded: its offsets are then saved. An error
// (or a panic) makes the consumer retry the same batch with backoff.
type Handler func(ctx context.Context, batch []Record) error

// Options configure a Consumer.
type Options struct {
	Conn
	Store   OffsetStore // required
	Handler Handler     // required
	// MissedWindow is how far back a first start reads (and reports as
	// missed while offline). 0 means the default 60 minutes; negative
	// means none: start at the end.
	MissedWindow time.Duration
	// MaxBatch caps records per Handler call; default 1000.
	MaxBatch int
	// OnHealth receives health changes from its own goroutine.
	OnHealth func(Health)
	Logger   *slog.Logger
	// PartitionCheck is how often new partitions are looked for
	// (Premium/Dedicated hubs can grow); default MetadataMaxAge.
	PartitionCheck time.Duration
}

// DefaultMissedWindow is the first-start look-back.
const DefaultMissedWindow = 60 * time.Minute

// MissedWindowMinutes converts the EventHub.MissedWindowMinutes setting
// (0 = report nothing) to Options.MissedWindow.
func MissedWindowMinutes(minutes int) time.Duration {
	if minutes <= 0 {
		return -1
	}
	return time.Duration(minutes) * time.Minute
}

// Consumer reads every partition of one hub. Create it with New, then Run.
type Consumer struct {
	opts    Options
	r       resolved
	hh      *healthHook
	log     *slog.Logger
	started time.Time
}

// New checks the options, refusing a bad connection string (including an
// EntityPath for another hub) before any connection is made.
func New(opts Options) (*Consumer, error) {
	if opts.Store == nil {
		return nil, errors.New("eventhub: Options.Store is required")
	}
	if opts.Handler == nil {
		return nil, errors.New("eventhub: Options.Handler is required")
	}
	r, err := opts.Conn.resolve()
	if err != nil {
		return nil, err
	}
	if opts.MissedWindow == 0 {
		opts.MissedWindow = DefaultMissedWindow
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.PartitionCheck <= 0 {
		opts.PartitionCheck = MetadataMaxAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "eventhub", "hub", opts.HubName, "namespace", r.cs.Host)
	return &Consumer{opts: opts, r: r, log: log, hh: newHealthHook(opts.HubName, opts.OnHealth)}, nil
}

// GroupID is the Kafka consumer group this desk uses: none (see the
// package doc), so the settings screen shows ModeDescription instead.
func (c *Consumer) GroupID() string { return "" }

// ModeDescription explains, for the settings screen, how this desk reads
// the hub.
func ModeDescription() string {
	return "No Kafka consumer group: this desk reads every partition itself and keeps its position in its own alert log, so every desk sees every alert (the Consumer Group setting is not used for Kafka)."
}

// Health returns the current health.
func (c *Consumer) Health() Health { return c.hh.get() }

// Run consumes until ctx is done, reconnecting forever; it returns
// ctx.Err(). Broker errors never end it.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.hh.stop()
	c.started = time.Now()
	hub := c.opts.HubName
	var starts map[int32]int64
	for tries := 1; ; tries++ {
		var err error
		if starts, err = c.prepare(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p := classify(err, hub)
		c.hh.fail(p)
		c.log.Warn("event hub not ready; retrying", "problem", p.Summary, "fix", p.Fix, "attempt", tries)
		if !sleep(ctx, backoff(tries)) {
			return ctx.Err()
		}
	}
	offs := make(map[int32]kgo.Offset, len(starts))
	for p, o := range starts {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(c.r.clientOpts(c.opts.ClientID, c.log, c.hh),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{hub: offs}),
		// A position that aged out while we ran resumes at the oldest record.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return fmt.Errorf("eventhub: client: %w", err) // only bad options get here
	}
	defer cl.Close()
	go c.watchPartitions(ctx, cl, len(starts))

	var lastErrLog time.Time
	for {
		fetches := cl.PollRecords(ctx, c.opts.MaxBatch)
		if ctx.Err() != nil {
			return ctx.Err() // polled records are not saved: redelivered next time
		}
		fetches.EachError(func(_ string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			prob := classify(err, hub)
			c.hh.fail(prob)
			if time.Since(lastErrLog) > 10*time.Second {
				lastErrLog = time.Now()
				c.log.Warn("event hub fetch failed; retrying", "partition", p, "problem", prob.Summary, "fix", prob.Fix)
			}
		})
		batch, next := c.build(fetches)
		if len(batch) > 0 {
			if err := c.deliver(ctx, batch); err != nil {
				return err
			}
		}
		if len(next) > 0 {
			if err := c.save(ctx, next); err != nil {
				return err
			}
		}
	}
}

// build turns fetched records into a batch, skipping malformed ones while
// still advancing past them.
func (c *Consumer) build(fs kgo.Fetches) ([]Record, map[int32]int64) {
	n := fs.NumRecords()
	if n == 0 {
		return nil, nil
	}
	batch := make([]Record, 0, n)
	next := make(map[int32]int64, 4)
	fs.EachRecord(func(r *kgo.Record) {
		next[r.Partition] = r.Offset + 1
		if why := Malformed(r.Value); why != "" {
			c.log.Warn("skipping malformed event hub record", "partition", r.Partition, "offset", r.Offset, "bytes", len(r.Value), "reason", why)
			return
		}
		batch = append(batch, Record{
			Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
			Key: r.Key, Value: r.Value, MissedWhileOffline: r.Timestamp.Before(c.started),
		})
	})
	return batch, next
}

func (c *Consumer) deliver(ctx context.Context, batch []Record) error {
	for tries := 1; ; tries++ {
		err := c.call(ctx, batch)
		if err == nil {
			c.hh.pipeline(nil)
			c.hh.record(time.Now())
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.hh.pipeline(err)
		c.log.Error("alert pipeline failed; retrying the same records", "err", err, "attempt", tries,
			"partition", batch[0].Partition, "offset", batch[0].Offset, "records", len(batch))
		if !sleep(ctx, backoff(tries)) {
			return ctx.Err()
		}
	}
}

func (c *Consumer) call(ctx context.Context, batch []Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.opts.Handler(ctx, batch)
}

func (c *Consumer) save(ctx context.Context, next map[int32]int64) error {
	for tries := 1; ; tries++ {
		err := c.opts.Store.SaveOffsets(ctx, c.opts.HubName, next)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("saving event hub offsets failed; retrying", "err", err, "attempt", tries)
		if !sleep(ctx, backoff(tries)) {
			return ctx.Err()
		}
	}
}

// prepare discovers the partitions and decides where each one starts.
func (c *Consumer) prepare(ctx context.Context) (map[int32]int64, error) {
	hub := c.opts.HubName
	cl, err := kgo.NewClient(c.r.clientOpts(c.opts.ClientID, c.log, c.hh)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	parts, err := partitionCount(rctx, cl, hub)
	if err != nil {
		return nil, err
	}
	stored, err := c.opts.Store.LoadOffsets(ctx, hub)
	if err != nil {
		return nil, fmt.Errorf("loading stored offsets: %w", err)
	}
	first, err := listOffsets(rctx, cl, hub, parts, -2)
	if err != nil {
		return nil, err
	}
	end, err := listOffsets(rctx, cl, hub, parts, -1)
	if err != nil {
		return nil, err
	}
	var since map[int32]int64
	from := c.started.Add(-c.opts.MissedWindow)
	if len(stored) < parts && c.opts.MissedWindow > 0 {
		if since, err = listOffsets(rctx, cl, hub, parts, from.UnixMilli()); err != nil {
			return nil, err
		}
	}
	starts := make(map[int32]int64, parts)
	fresh := map[int32]int64{}
	for p := int32(0); p < int32(parts); p++ {
		if o, ok := stored[p]; ok {
			switch {
			case o < first[p]:
				c.log.Warn("stored position aged out of the hub's retention; resuming at the oldest record (alerts in between are lost from the hub)",
					"partition", p, "stored", o, "oldest", first[p])
				o = first[p]
			case o > end[p]:
				c.log.Warn("stored position is past the end of the hub (was the hub re-created?); resuming at the oldest record",
					"partition", p, "stored", o, "end", end[p])
				o = first[p]
			}
			starts[p] = o
			continue
		}
		o := end[p]
		if s, ok := since[p]; ok && s >= 0 && s < o {
			o = s
		}
		starts[p], fresh[p] = o, o
		c.log.Info("first start on partition: reading the missed-while-offline window", "partition", p, "from", o, "end", end[p], "since", from.Format(time.RFC3339))
	}
	if len(fresh) > 0 {
		// Remember the starting point, so a restart before the first
		// record does not move the window.
		if err := c.opts.Store.SaveOffsets(ctx, hub, fresh); err != nil {
			return nil, fmt.Errorf("saving starting offsets: %w", err)
		}
	}
	return starts, nil
}

// watchPartitions adds partitions created while running (they start at
// their oldest record: everything in them is new).
func (c *Consumer) watchPartitions(ctx context.Context, cl *kgo.Client, known int) {
	t := time.NewTicker(c.opts.PartitionCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := partitionCount(rctx, cl, c.opts.HubName)
		cancel()
		if err != nil || n <= known {
			continue
		}
		add := map[int32]kgo.Offset{}
		for p := known; p < n; p++ {
			add[int32(p)] = kgo.NewOffset().AtStart()
		}
		c.log.Info("event hub gained partitions", "from", known, "to", n)
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.opts.HubName: add})
		known = n
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
