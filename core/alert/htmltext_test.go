package alert

import "testing"

func TestHTMLToText(t *testing.T) {
	cases := map[string]string{
		`<p>Hello <b>World</b></p>`: "Hello World",
		`a<br>b<br/>c`:              "a\nb\nc",
		`x &amp; y &lt;z&gt; &quot;q&quot; &#39;s&#39; &eacute;`: `x & y <z> "q" 's' é`,
		`a&nbsp;&nbsp;b`:                                 "a b",
		"a\u00a0\u2003b":                                 "a b",
		`<script>evil()</script>ok`:                      "ok",
		`<SCRIPT>evil()</script >ok`:                     "ok",
		`<script>if (a</b) x="</scriptx>"</script>ok`:    "ok",
		`<style>p{}</style><p>ok</p>`:                    "ok",
		`<script>never closed`:                           "",
		`<!-- c --><p>ok</p><!-->x`:                      "ok\nx",
		`<!DOCTYPE html><?xml x?>ok`:                     "ok",
		`<a href="x>y" title='<script>'>link</a>`:        "link",
		`<a href=x>y</a>`:                                "y",
		`1 < 2 and 3 > 2`:                                "1 < 2 and 3 > 2",
		`a </ b> c`:                                      "a c",
		`a </> b`:                                        "a b",
		`<textarea><b>kept</b> &amp;</textarea>`:         "<b>kept</b> &",
		`<table><tr><td>a</td><td>b</td></tr></table>`:   "a b",
		`<p>  spaced   out  </p><p></p><div> next</div>`: "spaced out\nnext",
		"zero\u200bwidth\u202eflip":                      "zerowidthflip",
		`unterminated <b class="x`:                       "unterminated",
		`&lt;script&gt;alert(1)&lt;/script&gt;`:          "<script>alert(1)</script>",
		`<template><p>hidden</p></template>shown`:        "shown",
	}
	for in, want := range cases {
		if got := HTMLToText(in); got != want {
			t.Errorf("HTMLToText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlainTextTextBody(t *testing.T) {
	if got := PlainText("text", "a <b> &amp;  c\n\n d"); got != "a <b> &amp; c\nd" {
		t.Fatalf("%q", got)
	}
	if got := PlainText("HTML", "<i>x</i>"); got != "x" {
		t.Fatalf("%q", got)
	}
}

func TestFold(t *testing.T) {
	if got := Fold("  Has\u00a0PLACED\nan  Emergency ’Call’ "); got != "has placed an emergency 'call'" {
		t.Fatalf("%q", got)
	}
}
