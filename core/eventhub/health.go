package eventhub

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// State is the consumer's connection state.
type State string

// States.
const (
	StateConnecting State = "connecting" // started, not yet reading
	StateConnected  State = "connected"  // reading the hub
	StateDegraded   State = "degraded"   // lost the hub or the pipeline fails; retrying
	StateFailed     State = "failed"     // a setting must change; still retrying
)

// Health is a snapshot of the consumer's state.
type Health struct {
	State   State
	Problem Problem // zero when connected
	// LastRecord is when the last record was handed off (zero: none yet).
	LastRecord time.Time
	Since      time.Time // when State last changed
}

// Reason is a one-line explanation for the UI.
func (h Health) Reason() string {
	if h.Problem.Kind == KindNone {
		return string(h.State)
	}
	return h.Problem.Summary + " — " + h.Problem.Fix
}

// healthHook turns franz-go hook calls into Health, delivering changes to
// a callback from its own goroutine so kgo is never blocked by the UI.
type healthHook struct {
	hub string
	mu  sync.Mutex
	h   Health
	// everConnected distinguishes a first connection failing (the admin's
	// problem) from an outage after running (degraded).
	everConnected bool
	pipelineErr   bool // the handler fails: not "connected" until it recovers
	notify        chan struct{}
	cb            func(Health)
	done          chan struct{}
}

var (
	_ kgo.HookBrokerConnect = (*healthHook)(nil)
	_ kgo.HookBrokerE2E     = (*healthHook)(nil)
)

func newHealthHook(hub string, cb func(Health)) *healthHook {
	hh := &healthHook{hub: hub, cb: cb, notify: make(chan struct{}, 1), done: make(chan struct{}),
		h: Health{State: StateConnecting, Since: time.Now()}}
	go hh.deliver()
	return hh
}

func (hh *healthHook) deliver() {
	var last Health
	for {
		select {
		case <-hh.notify:
		case <-hh.done:
			return
		}
		cur := hh.get()
		if cur.State == last.State && cur.Problem == last.Problem {
			continue
		}
		last = cur
		if hh.cb != nil {
			hh.cb(cur)
		}
	}
}

func (hh *healthHook) stop() { close(hh.done) }

func (hh *healthHook) get() Health {
	hh.mu.Lock()
	defer hh.mu.Unlock()
	return hh.h
}

func (hh *healthHook) set(s State, p Problem) {
	hh.mu.Lock()
	if hh.h.State == s && hh.h.Problem == p {
		hh.mu.Unlock()
		return
	}
	hh.h.State, hh.h.Problem, hh.h.Since = s, p, time.Now()
	hh.mu.Unlock()
	select {
	case hh.notify <- struct{}{}:
	default:
	}
}

func (hh *healthHook) ok() {
	hh.mu.Lock()
	hh.everConnected = true
	skip := hh.h.State == StateConnected || hh.pipelineErr
	hh.mu.Unlock()
	if !skip {
		hh.set(StateConnected, Problem{})
	}
}

func (hh *healthHook) fail(p Problem) {
	hh.mu.Lock()
	ever := hh.everConnected
	hh.mu.Unlock()
	s := StateDegraded
	if p.needsAdmin() || !ever {
		s = StateFailed
	}
	hh.set(s, p)
}

// pipeline reports the handler's outcome.
func (hh *healthHook) pipeline(err error) {
	hh.mu.Lock()
	was := hh.pipelineErr
	hh.pipelineErr = err != nil
	hh.mu.Unlock()
	switch {
	case err != nil:
		hh.set(StateDegraded, Problem{KindPipeline, "the alert pipeline cannot record alerts: " + err.Error(), "check the log and free disk space; records are retried and none is skipped"})
	case was:
		hh.set(StateConnected, Problem{})
	}
}

func (hh *healthHook) record(t time.Time) {
	hh.mu.Lock()
	hh.h.LastRecord = t
	hh.mu.Unlock()
}

// OnBrokerConnect implements kgo.HookBrokerConnect (dial + TLS).
func (hh *healthHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	p := classify(err, hh.hub)
	// A connection cut during SASL is reported twice: first on the SASL
	// request (recognised as an auth failure), then here as a bare EOF.
	if p.Kind == KindNetwork && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && hh.get().Problem.Kind == KindAuth {
		return
	}
	hh.fail(p)
}

// OnBrokerE2E implements kgo.HookBrokerE2E: every request's outcome,
// SASL included.
func (hh *healthHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if err := e2e.Err(); err != nil {
		hh.fail(classifyRequest(err, key, hh.hub))
		return
	}
	// Only a Fetch proves we read the hub: Metadata and ListOffsets carry
	// authorization and topic errors in their bodies. A successful sign-in
	// after an outage is enough to clear it, though (fetches long-poll).
	hh.mu.Lock()
	ever := hh.everConnected
	hh.mu.Unlock()
	if key == 1 || (key == 36 && ever) {
		hh.ok()
	}
}
