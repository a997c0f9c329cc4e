package main

import (
	"context"
	"flag"
	"io"

	"emergencydesk/core/diagnose"
	"emergencydesk/core/engine"
	"emergencydesk/core/paths"
)

func runDiagnose(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diagnose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON (stable, for support tickets)")
	e2e := fs.Bool("e2e", false, "also confirm Graph's validation record reached the hub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := paths.Default()
	log, closeLog, err := setupLog(d, io.Discard, false)
	if err != nil {
		return err
	}
	defer closeLog()
	vault, err := openVault(d)
	if err != nil {
		return err
	}
	rep, err := engine.DiagnoseOffline(context.Background(), d, vault, log, diagnose.Options{EndToEnd: *e2e})
	if err != nil {
		return err
	}
	if *asJSON {
		err = diagnose.WriteJSON(stdout, rep)
	} else {
		err = diagnose.WriteText(stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		return exitError{code: 1}
	}
	return nil
}
