// Package paths says where Emergency Desk keeps its files: settings in the
// OS config dir, the alert log and sealed vault values in the OS data dir,
// logs in the OS log location. EMERGENCYDESK_HOME moves all of them under
// one folder (tests, demo mode, portable installs).
package paths

import (
	"os"
	"path/filepath"
	"runtime"
)

// App is the folder name used under each OS location.
const App = "EmergencyDesk"

// HomeEnv overrides every location when set.
const HomeEnv = "EMERGENCYDESK_HOME"

// Dirs are the app's locations.
type Dirs struct {
	Config string // settings file
	Data   string // alert log, vault files
	Log    string // rotating log files
}

// Default returns the locations for this OS and environment.
func Default() Dirs {
	if h := os.Getenv(HomeEnv); h != "" {
		return Under(h)
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		cfg = os.TempDir()
	}
	d := Dirs{Config: filepath.Join(cfg, App)}
	switch runtime.GOOS {
	case "windows":
		base := os.Getenv("LOCALAPPDATA")
		if base == "" {
			base = cfg
		}
		d.Data = filepath.Join(base, App, "Data")
		d.Log = filepath.Join(base, App, "Logs")
	case "darwin":
		home, _ := os.UserHomeDir()
		d.Data = filepath.Join(home, "Library", "Application Support", App)
		d.Log = filepath.Join(home, "Library", "Logs", App)
	default:
		home, _ := os.UserHomeDir()
		data := os.Getenv("XDG_DATA_HOME")
		if data == "" {
			data = filepath.Join(home, ".local", "share")
		}
		state := os.Getenv("XDG_STATE_HOME")
		if state == "" {
			state = filepath.Join(home, ".local", "state")
		}
		d.Data = filepath.Join(data, App)
		d.Log = filepath.Join(state, App, "logs")
	}
	return d
}

// Under returns locations all below root.
func Under(root string) Dirs {
	return Dirs{
		Config: filepath.Join(root, "config"),
		Data:   filepath.Join(root, "data"),
		Log:    filepath.Join(root, "logs"),
	}
}

// ConfigFile is the settings file's path.
func (d Dirs) ConfigFile() string { return filepath.Join(d.Config, "settings.json") }

// AlertDB is the alert log's path.
func (d Dirs) AlertDB() string { return filepath.Join(d.Data, "alerts.db") }

// VaultDir holds sealed vault values.
func (d Dirs) VaultDir() string { return filepath.Join(d.Data, "vault") }

// LogFile is the current log file.
func (d Dirs) LogFile() string { return filepath.Join(d.Log, "emergencydesk.log") }
