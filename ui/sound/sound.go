package sound

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"

	"emergencydesk/assets"
)

// Device is the audio output the player drives; oto's context is the real
// one (see Open), tests pass a fake.
type Device interface {
	// NewPlayer starts nothing yet; Play starts it.
	NewPlayer(r io.Reader) Playback
}

// Playback is one sound being played.
type Playback interface {
	Play()
	Pause()
}

// Player plays the alarm and the chime. All methods return at once: device
// set-up and playback happen on the player's own goroutine.
type Player struct {
	log   *slog.Logger
	open  func() (Device, error)
	alarm PCM
	chime PCM

	mu      sync.Mutex
	dev     Device
	failed  bool
	playing Playback // the looping alarm, nil when silent
	want    bool     // the alarm should be sounding
	cmds    chan func()
}

// New returns a player on the default audio device (oto). log may be nil.
func New(log *slog.Logger) *Player { return NewWith(log, openOto) }

// NewWith returns a player on the device open returns (called once, lazily).
func NewWith(log *slog.Logger, open func() (Device, error)) *Player {
	if log == nil {
		log = slog.Default()
	}
	p := &Player{log: log, open: open, cmds: make(chan func(), 16)}
	var err error
	if p.alarm, err = ParseWAV(assets.Alarm); err != nil {
		log.Error("alarm sound unusable", "err", err)
		p.failed = true
	}
	if p.chime, err = ParseWAV(assets.TestChime); err != nil {
		log.Error("test chime unusable", "err", err)
		p.failed = true
	}
	go p.run()
	return p
}

func (p *Player) run() {
	for f := range p.cmds {
		f()
	}
}

func (p *Player) do(f func()) {
	select {
	case p.cmds <- f:
	default:
		// A stuck audio device must never hold up an alert: drop the request.
		p.log.Warn("sound player busy; request dropped")
	}
}

// device opens the output on first use; a failure is logged once and the
// player stays silent from then on.
func (p *Player) device() Device {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dev != nil || p.failed {
		return p.dev
	}
	d, err := p.open()
	if err != nil {
		p.failed = true
		p.log.Warn("no audio output: the alarm will be visual only", "err", err)
		return nil
	}
	p.dev = d
	return d
}

// StartAlarm loops the alarm until StopAlarm.
func (p *Player) StartAlarm() {
	p.mu.Lock()
	p.want = true
	p.mu.Unlock()
	p.do(func() {
		d := p.device()
		p.mu.Lock()
		defer p.mu.Unlock()
		if d == nil || !p.want || p.playing != nil {
			return
		}
		p.playing = d.NewPlayer(&loop{data: p.alarm.Data})
		p.playing.Play()
	})
}

// StopAlarm silences the alarm at once.
func (p *Player) StopAlarm() {
	p.mu.Lock()
	p.want = false
	pl := p.playing
	p.playing = nil
	p.mu.Unlock()
	if pl != nil {
		pl.Pause()
	}
	// A StartAlarm still queued sees want=false and does nothing.
}

// Alarming reports whether the alarm is meant to sound.
func (p *Player) Alarming() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want
}

// Chime plays the test chime once.
func (p *Player) Chime() {
	p.do(func() {
		if d := p.device(); d != nil {
			d.NewPlayer(bytes.NewReader(p.chime.Data)).Play()
		}
	})
}

type otoDevice struct{ ctx *oto.Context }

func (o otoDevice) NewPlayer(r io.Reader) Playback { return o.ctx.NewPlayer(r) }

// openOto opens the default output; oto allows one context per process,
// and both embedded sounds share its format (16-bit mono 22,050 Hz).
func openOto() (Device, error) {
	pcm, err := ParseWAV(assets.Alarm)
	if err != nil {
		return nil, err
	}
	ctx, ready, err := oto.NewContext(&oto.NewContextOptions{
		SampleRate:   pcm.SampleRate,
		ChannelCount: pcm.Channels,
		Format:       oto.FormatSignedInt16LE,
	})
	if err != nil {
		return nil, err
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		return nil, errors.New("audio device did not become ready within 5 s")
	}
	return otoDevice{ctx}, nil
}
