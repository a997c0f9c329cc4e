package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CorruptError says the settings file cannot be read and what to do.
type CorruptError struct {
	Path   string
	Backup string // "" when no usable backup exists
	Err    error
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("settings file %s is damaged: %v; it was left untouched", e.Path, e.Err)
	if e.Backup != "" {
		return msg + fmt.Sprintf("; the previous version is in %s: restore it with `emergencydesk config restore-backup`, or fix or delete the file", e.Backup)
	}
	return msg + "; fix or delete the file (no backup exists)"
}

func (e *CorruptError) Unwrap() error { return e.Err }

// BackupPath is where the previous version of path is kept.
func BackupPath(path string) string { return path + ".bak" }

// Load reads the settings at path. A missing file yields the defaults,
// saved at once so the workstation ID stays stable. A damaged file is an
// error naming the file and the backup; it is never overwritten.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		c := Default()
		if err := Save(path, c); err != nil {
			return c, err
		}
		return c, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read settings %s: %w", path, err)
	}
	c, err := decode(data)
	if err != nil {
		ce := &CorruptError{Path: path, Err: err}
		if b, berr := os.ReadFile(BackupPath(path)); berr == nil {
			if _, derr := decode(b); derr == nil {
				ce.Backup = BackupPath(path)
			}
		}
		return Config{}, ce
	}
	return c, nil
}

// RestoreBackup replaces a damaged settings file with its backup, keeping
// the damaged one as path.damaged for inspection.
func RestoreBackup(path string) (Config, error) {
	b, err := os.ReadFile(BackupPath(path))
	if err != nil {
		return Config{}, fmt.Errorf("no backup to restore: %w", err)
	}
	c, err := decode(b)
	if err != nil {
		return Config{}, fmt.Errorf("backup %s is damaged too: %w", BackupPath(path), err)
	}
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".damaged"); err != nil {
			return Config{}, err
		}
	}
	return c, writeAtomic(path, b)
}

// decode parses and migrates a settings file.
func decode(data []byte) (Config, error) {
	var probe struct {
		SchemaVersion *int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Config{}, fmt.Errorf("not valid JSON: %w", err)
	}
	version := 0
	if probe.SchemaVersion != nil {
		version = *probe.SchemaVersion
	}
	if version > SchemaVersion {
		return Config{}, fmt.Errorf("written by a newer Emergency Desk (schema %d, this build reads up to %d): upgrade the app", version, SchemaVersion)
	}
	c := Default()
	c.WorkstationID = ""
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("not a settings file: %w", err)
	}
	migrate(&c, version)
	if c.WorkstationID == "" {
		c.WorkstationID = NewWorkstationID()
	}
	return c, nil
}

// migrate upgrades a decoded config from schema version from.
func migrate(c *Config, from int) {
	if from < 1 {
		// Schema 0 (pre-release) had no version, no rich notifications
		// switch and no missed-while-offline window: take the defaults.
		c.Subscription.RichNotifications = true
		if c.EventHub.MissedWindowMinutes == 0 {
			c.EventHub.MissedWindowMinutes = DefaultMissedWindowMinutes
		}
	}
	c.SchemaVersion = SchemaVersion
}

// Save writes c to path atomically (temp file, fsync, rename) with mode
// 0600, keeping the previous version as a backup.
func Save(path string, c Config) error {
	c.SchemaVersion = SchemaVersion
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create settings folder: %w", err)
	}
	if old, err := os.ReadFile(path); err == nil {
		// Only a readable file becomes the backup, so a damaged file never
		// replaces a good backup.
		_, derr := decode(old)
		if derr != nil {
			// Never overwrite a damaged file silently: it may be the only
			// copy of settings someone can still recover by hand.
			return &CorruptError{Path: path, Err: derr}
		}
		if !bytes.Equal(old, data) {
			if err := writeAtomic(BackupPath(path), old); err != nil {
				return fmt.Errorf("keep backup of %s: %w", path, err)
			}
		}
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("save settings %s: %w", path, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
