package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
)

// line is one JSON line of `watch` output.
type line struct {
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Alert  *alert.Alert    `json:"alert,omitempty"`
	Health *health.Overall `json:"health,omitempty"`
	Code   *deviceCodeLine `json:"deviceCode,omitempty"`
	User   string          `json:"user,omitempty"`
	Error  string          `json:"error,omitempty"`
	Fix    string          `json:"fix,omitempty"`
	Ack    *alert.Ack      `json:"ack,omitempty"`
	ID     string          `json:"id,omitempty"`
	Extra  map[string]any  `json:"extra,omitempty"`
}

type deviceCodeLine struct {
	UserCode        string    `json:"userCode"`
	VerificationURL string    `json:"verificationUrl"`
	ExpiresAt       time.Time `json:"expiresAt"`
	Message         string    `json:"message"`
}

func runWatch(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noSignIn := fs.Bool("no-sign-in", false, "do not start a device-code sign-in when no monitoring user is signed in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var events <-chan engine.Event
	// Subscribe before Start so alerts re-raised at start-up are printed;
	// the subscription lives as long as the process.
	desk, err := startDesk(ctx, stderr, true, func(e *engine.Engine) { events, _ = e.Subscribe() })
	if err != nil {
		return err
	}
	defer desk.close()
	eng, log := desk.eng, desk.log
	enc := json.NewEncoder(stdout)
	emit := func(l line) {
		l.Time = time.Now().UTC()
		if err := enc.Encode(l); err != nil {
			log.Error("watch: cannot write to stdout", "err", err)
		}
	}
	h := eng.Health()
	emit(line{Type: "health", Health: &h})
	if len(eng.Config().Users) == 0 && !*noSignIn {
		if err := eng.AddMonitoringUser(ctx); err != nil {
			emit(line{Type: "sign_in_failed", Error: err.Error()})
		}
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("watch: stopping")
			return nil
		case ev := <-events:
			switch x := ev.(type) {
			case engine.AlertRaised:
				a := x.Alert
				a.Raw = nil // the full message stays in the alert log
				emit(line{Type: "alert", Alert: &a})
			case engine.AlertAcknowledged:
				ack := x.Ack
				emit(line{Type: "acknowledged", ID: x.ID, Ack: &ack})
			case engine.HealthChanged:
				h := x.Health
				emit(line{Type: "health", Health: &h})
			case engine.DeviceCodeNeeded:
				p := x.Prompt
				fmt.Fprintf(stderr, "\nSign in the monitoring user: open %s and enter the code %s (expires %s)\n%s\n\n",
					p.VerificationURL, p.UserCode, p.ExpiresAt.Local().Format("15:04"), p.Message)
				emit(line{Type: "device_code", Code: &deviceCodeLine{p.UserCode, p.VerificationURL, p.ExpiresAt, p.Message}})
			case engine.SignInFinished:
				if x.Err != nil {
					emit(line{Type: "sign_in_failed", Error: x.Err.Error(), Fix: x.Fix})
				} else {
					emit(line{Type: "signed_in", User: x.User.UPN})
				}
			}
		}
	}
}
