package eventhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// OffsetStore keeps, per topic and partition, the next offset to read. The
// alert log implements it in the same transaction as the alerts.
type OffsetStore interface {
	// LoadOffsets returns the next offset to read per partition; an empty
	// map means this desk never read the topic (first start).
	LoadOffsets(ctx context.Context, topic string) (map[int32]int64, error)
	// SaveOffsets records next offsets. next holds only the partitions
	// that advanced: implementations merge it into what they have.
	SaveOffsets(ctx context.Context, topic string, next map[int32]int64) error
}

// MemOffsets is an in-memory OffsetStore (tests, demo mode).
type MemOffsets struct {
	mu sync.Mutex
	m  map[string]map[int32]int64
}

// NewMemOffsets returns an empty in-memory store.
func NewMemOffsets() *MemOffsets { return &MemOffsets{m: map[string]map[int32]int64{}} }

// LoadOffsets implements OffsetStore.
func (s *MemOffsets) LoadOffsets(_ context.Context, topic string) (map[int32]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m[topic]), nil
}

// SaveOffsets implements OffsetStore.
func (s *MemOffsets) SaveOffsets(_ context.Context, topic string, next map[int32]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.m[topic]
	if t == nil {
		t = map[int32]int64{}
		s.m[topic] = t
	}
	maps.Copy(t, next)
	return nil
}

// FileOffsets is an OffsetStore in a JSON file, replaced atomically on
// every save (tests, the headless watcher without an alert log).
type FileOffsets struct {
	mu   sync.Mutex
	path string
}

// NewFileOffsets stores offsets in path (created on the first save).
func NewFileOffsets(path string) *FileOffsets { return &FileOffsets{path: path} }

type fileOffsets map[string]map[string]int64 // topic → partition → next

func (s *FileOffsets) read() (fileOffsets, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return fileOffsets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offsets file: %w", err)
	}
	var f fileOffsets
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("offsets file %s is corrupt (%v): delete it to start over from the missed-while-offline window", s.path, err)
	}
	if f == nil {
		f = fileOffsets{}
	}
	return f, nil
}

// LoadOffsets implements OffsetStore.
func (s *FileOffsets) LoadOffsets(_ context.Context, topic string) (map[int32]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range f[topic] {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("offsets file %s: bad partition %q", s.path, p)
		}
		out[int32(n)] = o
	}
	return out, nil
}

// SaveOffsets implements OffsetStore.
func (s *FileOffsets) SaveOffsets(_ context.Context, topic string, next map[int32]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	if f[topic] == nil {
		f[topic] = map[string]int64{}
	}
	for p, o := range next {
		f[topic][strconv.Itoa(int(p))] = o
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".offsets-*")
	if err != nil {
		return fmt.Errorf("offsets file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("offsets file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("offsets file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("offsets file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("offsets file: %w", err)
	}
	return nil
}
