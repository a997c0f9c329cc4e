package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"emergencydesk/core/config"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
)

// vaultService is the keyring service name all entries are stored under.
const vaultService = "EmergencyDesk"

func openVault(d paths.Dirs) (*secrets.Vault, error) {
	return secrets.Open(vaultService, d.VaultDir())
}

func runConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	d := paths.Default()
	path := d.ConfigFile()
	if len(args) == 0 {
		return exitError{2, "config needs a subcommand: show | set KEY VALUE | import FILE | keys | restore-backup"}
	}
	switch args[0] {
	case "show":
		c, err := config.Load(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# %s\n", path)
		for _, f := range config.Fields {
			fmt.Fprintf(stdout, "%-40s %s\n", f.Key, f.Get(&c))
		}
		v, verr := openVault(d)
		for _, s := range []struct{ key, name string }{{"oauth.clientSecret", secrets.ClientSecret}, {"eventHub.connectionString", secrets.ConnectionString}} {
			state := "(not set)"
			switch {
			case verr != nil:
				state = "(keyring unavailable)"
			case v.Has(s.name):
				state = "******** (in the OS keyring)"
				if s.name == secrets.ConnectionString {
					raw, _ := v.Get(s.name)
					if cs, err := config.ParseConnString(raw, ""); err == nil {
						state = cs.String() + " (in the OS keyring)"
					}
				}
			}
			fmt.Fprintf(stdout, "%-40s %s\n", s.key, state)
		}
		for _, u := range c.Users {
			fmt.Fprintf(stdout, "%-40s %s <%s>\n", "monitoringUser", u.DisplayName, u.UPN)
		}
		for _, p := range c.Validate() {
			fmt.Fprintf(stdout, "# %s\n", p)
		}
		return nil
	case "keys":
		for _, f := range config.Fields {
			fmt.Fprintf(stdout, "%-40s [%s] %s — %s\n", f.Key, f.Tab, f.Label, f.Help)
		}
		return nil
	case "set":
		if len(args) != 3 {
			return exitError{2, "usage: emergencydesk config set KEY VALUE (see `emergencydesk config keys`)"}
		}
		c, err := config.Load(path)
		if err != nil {
			return err
		}
		f, err := config.LookupField(args[1])
		if err != nil {
			return err
		}
		if err := f.Set(&c, args[2]); err != nil {
			return err
		}
		return saveValidated(path, c, f.Key, stdout)
	case "import":
		if len(args) != 2 {
			return exitError{2, "usage: emergencydesk config import FILE (JSON as written by the app, or KEY=VALUE lines)"}
		}
		c, err := config.Load(path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		if err := importInto(&c, data); err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		return saveValidated(path, c, "", stdout)
	case "restore-backup":
		if _, err := config.RestoreBackup(path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored %s from %s\n", path, config.BackupPath(path))
		return nil
	}
	return exitError{2, fmt.Sprintf("unknown config subcommand %q", args[0])}
}

// importInto applies a file of settings: either the app's JSON format or
// KEY=VALUE lines (blank lines and # comments ignored).
func importInto(c *config.Config, data []byte) error {
	trim := strings.TrimSpace(string(data))
	if strings.HasPrefix(trim, "{") {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("not valid JSON: %w", err)
		}
		for _, k := range []string{"clientSecret", "connectionString"} {
			if _, ok := raw[k]; ok {
				return errors.New("secrets cannot be imported from a file: use `emergencydesk secret set`")
			}
		}
		keep := c.WorkstationID
		if err := json.Unmarshal(data, c); err != nil {
			return fmt.Errorf("not a settings file: %w", err)
		}
		if _, ok := raw["workstationId"]; !ok {
			c.WorkstationID = keep
		}
		return nil
	}
	var errs []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, fmt.Sprintf("line %d: expected KEY=VALUE", i+1))
			continue
		}
		f, err := config.LookupField(strings.TrimSpace(k))
		if err == nil {
			err = f.Set(c, strings.TrimSpace(v))
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", i+1, err))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// saveValidated refuses to save settings with errors (so scripts fail
// loudly), prints warnings, and saves otherwise. When only is set, only
// errors of that field block the save: an unfinished set-up can be filled
// in one key at a time.
func saveValidated(path string, c config.Config, only string, stdout io.Writer) error {
	ps := c.Validate()
	var blocking config.Problems
	for _, p := range ps.Errors() {
		if only == "" || p.Field == only {
			blocking = append(blocking, p)
		}
	}
	if len(blocking) > 0 {
		return exitError{1, "not saved:\n" + blocking.Error()}
	}
	if err := config.Save(path, c); err != nil {
		return err
	}
	var notes []string
	for _, p := range ps {
		notes = append(notes, p.String())
	}
	sort.Strings(notes)
	for _, n := range notes {
		fmt.Fprintln(stdout, "note:", n)
	}
	fmt.Fprintln(stdout, "saved", path)
	return nil
}

func runSecret(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := "usage: emergencydesk secret set client-secret|connection-string < FILE (the value is read from stdin, never from the command line); emergencydesk secret delete NAME"
	if len(args) != 2 || (args[0] != "set" && args[0] != "delete") {
		return exitError{2, usage}
	}
	name, ok := secrets.Names[args[1]]
	if !ok {
		return exitError{2, fmt.Sprintf("unknown secret %q; %s", args[1], usage)}
	}
	d := paths.Default()
	v, err := openVault(d)
	if err != nil {
		return err
	}
	if args[0] == "delete" {
		if err := v.Delete(name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s\n", args[1])
		return nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(stderr, "Paste the %s and press Enter, then Ctrl-D:\n", args[1])
		}
	}
	data, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return err
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		return exitError{1, "no value on stdin: nothing stored"}
	}
	c, err := config.Load(d.ConfigFile())
	if err != nil {
		return err
	}
	if name == secrets.ConnectionString {
		_, ps := c.ValidateConnString(value)
		if errs := ps.Errors(); len(errs) > 0 {
			return exitError{1, "not stored:\n" + errs.Error()}
		}
		for _, p := range ps {
			fmt.Fprintln(stdout, "note:", p)
		}
	}
	if err := v.Set(name, value); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stored %s in the OS keyring\n", args[1])
	return nil
}
