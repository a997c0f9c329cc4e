// Command emergencydesk is Emergency Desk: a tray app that raises an alarm
// on the security desk whenever someone in the organisation places an
// emergency call from Microsoft Teams.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set by the Makefile from FyneApp.toml (-X main.version=…).
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"gui", "start the desktop app (the default)", runGUI},
		{"demo", "start the desktop app against the built-in Microsoft emulator", runDemo},
		{"watch", "run headless: print alerts and health changes as JSON lines", runWatch},
		{"diagnose", "test every link of the chain (use --json for support tickets)", runDiagnose},
		{"config", "show or change settings (config show | set KEY VALUE | import FILE | keys | restore-backup)", runConfig},
		{"secret", "store a secret read from stdin (secret set client-secret|connection-string; secret delete NAME)", runSecret},
		{"emulator", "run the Microsoft emulator standalone", runEmulator},
		{"version", "print the version", func([]string, io.Reader, io.Writer, io.Writer) error { fmt.Println(versionString()); return nil }},
	}
}

func versionString() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return "Emergency Desk " + v
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nUsage: emergencydesk [command] [flags]\n\nCommands:\n", versionString())
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nFlags:\n  --version  print the version\n  --help     this help\n\nEMERGENCYDESK_HOME=DIR keeps settings, logs and the alert log under DIR.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "gui"
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version", "-v":
			fmt.Fprintln(stdout, versionString())
			return 0
		case "--help", "-help", "-h", "help":
			usage(stdout)
			return 0
		}
		if len(args[0]) > 0 && args[0][0] != '-' {
			name, args = args[0], args[1:]
		}
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(args, stdin, stdout, stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			var ee exitError
			if errors.As(err, &ee) {
				if ee.msg != "" {
					fmt.Fprintln(stderr, "emergencydesk:", ee.msg)
				}
				return ee.code
			}
			if err != nil {
				fmt.Fprintln(stderr, "emergencydesk:", err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "emergencydesk: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// exitError ends the process with a specific status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
