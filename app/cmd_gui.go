package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/engine"
	"emergencydesk/core/msemu"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
)

func runGUI(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tray := fs.Bool("tray", false, "start in the tray without opening the main window (autostart)")
	noSound := fs.Bool("no-sound", false, "never play the alarm sound")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	desk, err := startDesk(ctx, stderr, false, nil)
	if err != nil {
		return err
	}
	defer desk.close()
	return startGUI(desk.eng, guiOptions{Logger: desk.log, ShowMain: !*tray, NoSound: *noSound})
}

func runDemo(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manual := fs.Bool("manual-approve", false, "do not approve the sign-in automatically: type the code on the emulator's /devicelogin page")
	approveAfter := fs.Duration("approve-after", 5*time.Second, "approve the demo sign-in after this long (so the device-code dialog can be seen)")
	noSound := fs.Bool("no-sound", false, "never play the alarm sound")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Demo mode never touches the desk's real settings or alert log.
	home := os.Getenv(paths.HomeEnv)
	if home == "" {
		var err error
		if home, err = os.MkdirTemp("", "emergencydesk-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(home)
		os.Setenv(paths.HomeEnv, home)
	}
	d := paths.Under(home)
	log, closeLog, err := setupLog(d, stderr, false)
	if err != nil {
		return err
	}
	defer closeLog()
	emu, err := msemu.Start(msemu.Options{Logger: log.With("component", "emulator")})
	if err != nil {
		return err
	}
	defer emu.Close()
	vault, err := openVault(d)
	if err != nil {
		// The emulator's secrets are throwaway: without a Secret Service the
		// demo keeps them in memory rather than refusing to start.
		log.Warn("demo: OS keyring unavailable; keeping the emulator's throwaway secrets in memory", "err", err)
		vault, err = secrets.OpenWith(&memKeyring{m: map[string]string{}}, vaultService, d.VaultDir())
		if err != nil {
			return err
		}
	}
	base, err := config.Load(d.ConfigFile())
	if err != nil {
		return err
	}
	s, err := emu.Settings(base, filepath.Join(d.Data, "emulator"))
	if err != nil {
		return err
	}
	s.Config.Users = nil
	if err := config.Save(d.ConfigFile(), s.Config); err != nil {
		return err
	}
	vault.Delete(secrets.TokenCache)
	if err := vault.Set(secrets.ConnectionString, s.ConnectionString); err != nil {
		return err
	}
	eng, err := newEngine(engine.Options{Dirs: d, Vault: vault, Logger: log, Simulator: &simulator{emu: emu}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := eng.Start(ctx); err != nil {
		eng.Stop()
		return err
	}
	defer eng.Stop()
	fmt.Fprintf(stdout, "Emergency Desk demo: Microsoft emulator on loopback, device login page %s\n", s.VerificationURL)
	fmt.Fprintf(stdout, "Use the tray menu's \"Simulate 911 call\" / \"Simulate 933 test call\".\n")
	// Sign in only once the UI is subscribed, or the device-code dialog
	// would miss the code.
	signIn := func() { go demoSignIn(ctx, eng, emu, *manual, *approveAfter, stdout, log) }
	return startGUI(eng, guiOptions{Logger: log, ShowMain: true, NoSound: *noSound, OnStarted: signIn})
}

// demoSignIn signs the emulator's desk user in through the real device-code
// flow, so the dialog shows; it approves on the emulator's side after a
// pause unless the newcomer wants to type the code themselves.
func demoSignIn(ctx context.Context, eng *engine.Engine, emu *msemu.Emulator, manual bool, after time.Duration, out io.Writer, log *slog.Logger) {
	events, unsub := eng.Subscribe()
	defer unsub()
	if err := eng.AddMonitoringUser(ctx); err != nil {
		log.Error("demo: sign-in", "err", err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			switch x := ev.(type) {
			case engine.DeviceCodeNeeded:
				fmt.Fprintf(out, "Device code %s — open %s (the emulator's CA is in the demo folder) or wait for automatic approval.\n", x.Prompt.UserCode, x.Prompt.VerificationURL)
				if manual {
					continue
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(after):
				}
				if err := emu.Approve(x.Prompt.UserCode); err != nil && !errors.Is(err, context.Canceled) {
					log.Warn("demo: automatic approval", "err", err)
				}
			case engine.SignInFinished:
				if x.Err == nil {
					fmt.Fprintf(out, "Signed in as %s. Simulate a call from the tray menu.\n", x.User.UPN)
				}
				return
			}
		}
	}
}
