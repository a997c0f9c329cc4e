package main

import (
	"errors"
	"io"
)

// These front ends arrive with their issues; until then they say so.
var errNotYet = errors.New("not available in this build yet")

func runGUI(args []string, stdin io.Reader, stdout, stderr io.Writer) error  { return errNotYet }
func runDemo(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNotYet }
