package main

import "io"

func runWatch(args []string, stdin io.Reader, stdout, stderr io.Writer) error    { return errNotYet }
func runDiagnose(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNotYet }
func runEmulator(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNotYet }
