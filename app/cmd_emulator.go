package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msemu"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
)

const emulatorHelp = `commands:
  911 [location]      Alex Doe places an emergency call (911)
  933 [location]      Sam Rivera places a test call (933)
  msg TEXT            an ordinary chat message (must raise nothing)
  approve CODE        approve a pending device code as the desk user
  hub stop|start      simulate an Event Hub outage
  expire              expire every access token now
  help | quit`

func runEmulator(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configure := fs.Bool("configure", false, "write the emulator's endpoints into this desk's settings and vault (use with EMERGENCYDESK_HOME)")
	basic := fs.Bool("basic", false, "emulate a Basic-tier namespace (no Kafka endpoint)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	emu, err := msemu.Start(msemu.Options{Basic: *basic})
	if err != nil {
		return err
	}
	defer emu.Close()
	d := paths.Default()
	base, err := config.Load(d.ConfigFile())
	if err != nil {
		base = config.Default()
	}
	s, err := emu.Settings(base, d.Data)
	if err != nil {
		return err
	}
	if *configure {
		v, err := openVault(d)
		if err != nil {
			return err
		}
		s.Config.Users = nil // users of an earlier emulator run do not exist here
		if err := config.Save(d.ConfigFile(), s.Config); err != nil {
			return err
		}
		if err := v.Set(secrets.ConnectionString, s.ConnectionString); err != nil {
			return err
		}
		v.Delete(secrets.TokenCache)
		fmt.Fprintf(stdout, "configured %s for this emulator\n", d.ConfigFile())
	}
	fmt.Fprintf(stdout, "Microsoft emulator running (loopback only)\n")
	fmt.Fprintf(stdout, "  Entra ID:          %s  (tenant %s, client %s)\n", emu.Entra.URL(), emu.Tenant, emu.Entra.ClientID())
	fmt.Fprintf(stdout, "  device login page: %s\n", s.VerificationURL)
	fmt.Fprintf(stdout, "  Graph:             %s\n", emu.Graph.URL)
	fmt.Fprintf(stdout, "  Event Hub (Kafka): %s  (namespace %s, hub %s)\n", emu.Hub.Addr(), emu.Hub.Host(), emu.Hub.HubName())
	fmt.Fprintf(stdout, "  CA certificate:    %s\n  desk user:         %s\n\nsettings for a desk:\n", s.CAFile, emu.Desk.UPN)
	for _, k := range []string{"oauth.clientId", "oauth.tenantId", "cloud.authorityUrl", "cloud.graphUrl", "cloud.kafkaBootstrap", "cloud.extraCaBundle", "eventHub.name", "eventHub.partitionCount"} {
		f, _ := config.LookupField(k)
		fmt.Fprintf(stdout, "  emergencydesk config set %s %s\n", k, f.Get(&s.Config))
	}
	csFile := filepath.Join(d.Data, "emulator-connection-string.txt")
	if err := os.WriteFile(csFile, []byte(s.ConnectionString+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  emergencydesk secret set connection-string < %s\n\n%s\n", csFile, emulatorHelp)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				// stdin closed (e.g. run in the background): serve until signalled.
				<-ctx.Done()
				return nil
			}
			if quit := emulatorCommand(ctx, emu, strings.TrimSpace(l), stdout); quit {
				return nil
			}
		}
	}
}

func emulatorCommand(ctx context.Context, emu *msemu.Emulator, l string, out io.Writer) (quit bool) {
	cmd, rest, _ := strings.Cut(l, " ")
	rest = strings.TrimSpace(rest)
	var err error
	switch cmd {
	case "":
	case "911", "933", "112", "999":
		caller := 0
		if cmd == "933" {
			caller = 1
		}
		if rest == "" {
			rest = demoLocations[0]
		}
		var id string
		_, id, err = emu.PostEmergencyCall(caller, cmd, rest)
		if err == nil {
			fmt.Fprintf(out, "posted %s call, message %s at %s\n", cmd, id, time.Now().Format("15:04:05.000"))
		}
	case "msg":
		var id string
		id, err = emu.PostOrdinaryMessage(ctx, 0, rest)
		if err == nil {
			fmt.Fprintf(out, "posted ordinary message %s\n", id)
		}
	case "approve":
		if err = emu.Approve(rest); err == nil {
			fmt.Fprintln(out, "approved", rest)
		}
	case "hub":
		switch rest {
		case "stop":
			emu.Hub.Stop()
			fmt.Fprintln(out, "hub stopped")
		case "start":
			if err = emu.Hub.Start(); err == nil {
				fmt.Fprintln(out, "hub started")
			}
		default:
			err = fmt.Errorf("hub stop|start")
		}
	case "expire":
		emu.Entra.ExpireAccessTokens()
		fmt.Fprintln(out, "access tokens expired")
	case "help":
		fmt.Fprintln(out, emulatorHelp)
	case "quit", "exit":
		return true
	default:
		err = fmt.Errorf("unknown command %q (try help)", cmd)
	}
	if err != nil {
		fmt.Fprintln(out, "error:", err)
	}
	return false
}
