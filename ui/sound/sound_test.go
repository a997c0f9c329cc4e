package sound

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emergencydesk/assets"
)

type fakePB struct {
	mu      sync.Mutex
	playing bool
	r       io.Reader
}

func (f *fakePB) Play()  { f.mu.Lock(); f.playing = true; f.mu.Unlock() }
func (f *fakePB) Pause() { f.mu.Lock(); f.playing = false; f.mu.Unlock() }

type fakeDev struct {
	mu  sync.Mutex
	pbs []*fakePB
}

func (d *fakeDev) NewPlayer(r io.Reader) Playback {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := &fakePB{r: r}
	d.pbs = append(d.pbs, p)
	return p
}

func (d *fakeDev) n() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.pbs) }

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not reached")
}

func TestAlarmLoopsUntilStopped(t *testing.T) {
	dev := &fakeDev{}
	p := NewWith(nil, func() (Device, error) { return dev, nil })
	p.StartAlarm()
	waitFor(t, func() bool { return dev.n() == 1 })
	pb := dev.pbs[0]
	buf := make([]byte, 3*len(mustPCM(t).Data)) // more than one round: it loops
	if n, _ := io.ReadFull(pb.r, buf); n != len(buf) {
		t.Fatalf("alarm reader ended after %d bytes", n)
	}
	p.StartAlarm() // already sounding: no second player
	p.Chime()
	waitFor(t, func() bool { return dev.n() == 2 })
	p.StopAlarm()
	if pb.playing || p.Alarming() {
		t.Fatal("alarm still playing after StopAlarm")
	}
}

func mustPCM(t *testing.T) PCM {
	p, err := ParseWAV(assets.Alarm)
	if err != nil || p.SampleRate != 22050 || p.Channels != 1 {
		t.Fatalf("alarm WAV: %+v %v", p.SampleRate, err)
	}
	return p
}

func TestNoDeviceFailsSoftAndLogsOnce(t *testing.T) {
	logs := &lockedBuf{}
	var opens atomic.Int32
	p := NewWith(slog.New(slog.NewTextHandler(logs, nil)), func() (Device, error) {
		opens.Add(1)
		return nil, errors.New("ALSA: no such device")
	})
	done := make(chan struct{})
	go func() {
		p.StartAlarm()
		p.Chime()
		p.StopAlarm()
		p.StartAlarm()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("sound calls blocked without an audio device")
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "no audio output") })
	time.Sleep(50 * time.Millisecond)
	if c := strings.Count(logs.String(), "no audio output"); c != 1 || opens.Load() != 1 {
		t.Fatalf("logged %d times, opened %d times; want once each", c, opens.Load())
	}
}

func TestParseWAVRejectsGarbage(t *testing.T) {
	if _, err := ParseWAV([]byte("RIFF....WAVEjunk")); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := ParseWAV(assets.TestChime); err != nil {
		t.Fatal(err)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
