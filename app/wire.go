package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"emergencydesk/core/engine"
	"emergencydesk/core/logging"
	"emergencydesk/core/msemu"
	"emergencydesk/core/paths"
	"emergencydesk/core/store"

	"github.com/zalando/go-keyring"
)

// setupLog logs to the rotating file in d.Log and to stderr.
func setupLog(d paths.Dirs, stderr io.Writer, json bool) (*slog.Logger, func(), error) {
	lvl := slog.LevelInfo
	if os.Getenv("EMERGENCYDESK_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	log, closer, err := logging.Setup(logging.Options{File: d.LogFile(), Stderr: stderr, Level: lvl, JSON: json})
	if err != nil {
		return nil, nil, fmt.Errorf("open log %s: %w", d.LogFile(), err)
	}
	slog.SetDefault(log)
	return log, func() { closer.Close() }, nil
}

// newEngine builds the engine; a second instance on the same desk gets a
// clear "already running" instead of a second consumer.
func newEngine(o engine.Options) (*engine.Engine, error) {
	e, err := engine.New(o)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("Emergency Desk is already running for this user (%v)", err)
	}
	return e, err
}

// runningDesk is an engine started on the desk's own settings and vault.
type runningDesk struct {
	eng   *engine.Engine
	log   *slog.Logger
	close func()
}

// startDesk sets up logging, opens the vault and starts the engine on the
// desk's locations; close stops it all. beforeStart (may be nil) runs on
// the new engine first, e.g. to subscribe so no start-up event is missed.
func startDesk(ctx context.Context, stderr io.Writer, jsonLog bool, beforeStart func(*engine.Engine)) (*runningDesk, error) {
	d := paths.Default()
	log, closeLog, err := setupLog(d, stderr, jsonLog)
	if err != nil {
		return nil, err
	}
	vault, err := openVault(d)
	if err != nil {
		closeLog()
		return nil, err
	}
	eng, err := newEngine(engine.Options{Dirs: d, Vault: vault, Logger: log})
	if err != nil {
		closeLog()
		return nil, err
	}
	if beforeStart != nil {
		beforeStart(eng)
	}
	if err := eng.Start(ctx); err != nil {
		eng.Stop()
		closeLog()
		return nil, err
	}
	return &runningDesk{eng: eng, log: log, close: func() { eng.Stop(); closeLog() }}, nil
}

// simulator posts demo calls through the emulated Teams, alternating callers.
type simulator struct {
	emu *msemu.Emulator
	n   atomic.Uint32
}

var demoLocations = []string{
	"Building 2, Floor 3, Room 301, 1 Main St, Springfield",
	"Warehouse B, Loading Dock 4, 200 Industrial Way, Springfield",
	"Head Office Lobby, 10 Market Square, Springfield",
}

func (s *simulator) SimulateCall(ctx context.Context, number string) error {
	i := int(s.n.Add(1) - 1)
	_, _, err := s.emu.PostEmergencyCall(i%len(s.emu.Callers), number, demoLocations[i%len(demoLocations)])
	return err
}

// memKeyring is a process-local keyring for demo mode on machines without
// a Secret Service: it only ever holds the emulator's throwaway secrets.
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Get(s, u string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"\x00"+u]
	if !ok {
		return "", errKeyNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(s, u, p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[s+"\x00"+u] = p
	return nil
}

func (k *memKeyring) Delete(s, u string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, s+"\x00"+u)
	return nil
}

var errKeyNotFound = keyring.ErrNotFound
