package alert

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextBytes caps the HTML converted to text; an emergency notification
// is a few hundred bytes, and the rest of a huge body is not looked at.
const MaxTextBytes = 256 << 10

// HTMLToText converts chat HTML to plain text without rendering it: tags
// are dropped, entities decoded, script/style (and similar) content dropped,
// block elements become line breaks, and whitespace (nbsp included) is
// collapsed. Lines are trimmed and empty lines removed.
//
// It is a small tokenizer following the HTML5 tokenizer's rules for what
// matters here (quoted attribute values, comments, raw-text elements);
// golang.org/x/net/html is not in this module's build.
func HTMLToText(s string) string {
	if len(s) > MaxTextBytes {
		s = s[:MaxTextBytes]
	}
	var out strings.Builder
	out.Grow(len(s))
	i := 0
	for i < len(s) {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			out.WriteString(html.UnescapeString(s[i:]))
			break
		}
		if lt > 0 {
			out.WriteString(html.UnescapeString(s[i : i+lt]))
		}
		i += lt
		i = tag(s, i, &out)
	}
	return tidy(out.String())
}

// tag consumes markup starting at s[i] == '<' and returns the index after
// it. Text that only looks like markup ("a < b") is written out literally.
func tag(s string, i int, out *strings.Builder) int {
	rest := s[i+1:]
	switch {
	case strings.HasPrefix(rest, "!--"):
		// Comment: up to "-->" (or "--!>"), else to the end.
		body := rest[3:]
		if strings.HasPrefix(body, ">") {
			return i + 5
		}
		if strings.HasPrefix(body, "->") {
			return i + 6
		}
		if e := strings.Index(body, "-->"); e >= 0 {
			return i + 4 + e + 3
		}
		if e := strings.Index(body, "--!>"); e >= 0 {
			return i + 4 + e + 4
		}
		return len(s)
	case strings.HasPrefix(rest, "!"), strings.HasPrefix(rest, "?"):
		// Doctype, CDATA, processing instruction: bogus comment to '>'.
		if e := strings.IndexByte(rest, '>'); e >= 0 {
			return i + 1 + e + 1
		}
		return len(s)
	case strings.HasPrefix(rest, "/"):
		if len(rest) < 2 || !isASCIILetter(rest[1]) {
			if len(rest) >= 2 && rest[1] == '>' {
				return i + 3 // "</>" is ignored
			}
			if len(rest) < 2 {
				out.WriteString("</")
				return len(s)
			}
			if e := strings.IndexByte(rest, '>'); e >= 0 {
				return i + 1 + e + 1
			}
			return len(s)
		}
		name, j := tagName(s, i+2)
		end := skipAttrs(s, j)
		if isBlock(name) {
			out.WriteByte('\n')
		} else if isCell(name) {
			out.WriteByte(' ')
		}
		return end
	case len(rest) > 0 && isASCIILetter(rest[0]):
		name, j := tagName(s, i+1)
		end := skipAttrs(s, j)
		if isBlock(name) {
			out.WriteByte('\n')
		} else if isCell(name) {
			out.WriteByte(' ')
		}
		switch {
		case dropContent[name]:
			return skipRawText(s, end, name)
		case name == "textarea":
			// RCDATA: its content is text, entities decoded, no tags.
			stop := findEndTag(s, end, name)
			out.WriteString(html.UnescapeString(s[end:stop]))
			return skipEndTag(s, stop)
		}
		return end
	}
	out.WriteByte('<')
	return i + 1
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// tagName reads a tag name from s[j:] (lower-cased) and returns the index
// after it.
func tagName(s string, j int) (string, int) {
	k := j
	for k < len(s) && !isTagSpace(s[k]) && s[k] != '/' && s[k] != '>' {
		k++
	}
	return strings.ToLower(s[j:k]), k
}

func isTagSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// skipAttrs skips the attributes of a tag and returns the index after '>'
// (or len(s) for an unterminated tag, which a browser drops too). It follows
// the HTML5 attribute states, so a quoted value may hold '>'.
func skipAttrs(s string, j int) int {
	const (
		between  = iota // before/after an attribute name
		name            // in an attribute name
		afterEq         // after '=', before the value
		unquoted        // in an unquoted value
	)
	st := between
	for j < len(s) {
		c := s[j]
		switch st {
		case between, name:
			switch {
			case c == '>':
				return j + 1
			case c == '=' && st == name:
				st = afterEq
			case isTagSpace(c) || c == '/':
				st = between
			default:
				st = name
			}
		case afterEq:
			switch {
			case c == '>':
				return j + 1
			case c == '"' || c == '\'':
				e := strings.IndexByte(s[j+1:], c)
				if e < 0 {
					return len(s)
				}
				j += e + 1
				st = between
			case isTagSpace(c):
			default:
				st = unquoted
			}
		case unquoted:
			switch {
			case c == '>':
				return j + 1
			case isTagSpace(c):
				st = between
			}
		}
		j++
	}
	return len(s)
}

// dropContent are elements whose content is never text for a reader.
var dropContent = map[string]bool{
	"script": true, "style": true, "template": true, "iframe": true,
	"noembed": true, "noframes": true, "noscript": true, "xmp": true,
	"title": true, "object": true, "plaintext": true,
}

// findEndTag returns the index of the "</name" that closes a raw-text
// element starting at j, or len(s).
func findEndTag(s string, j int, name string) int {
	if name == "plaintext" {
		return len(s) // never closes
	}
	for k := j; k < len(s); {
		e := strings.Index(s[k:], "</")
		if e < 0 {
			return len(s)
		}
		p := k + e
		q := p + 2 + len(name)
		if q <= len(s) && strings.EqualFold(s[p+2:q], name) && (q == len(s) || isTagSpace(s[q]) || s[q] == '/' || s[q] == '>') {
			return p
		}
		k = p + 2
	}
	return len(s)
}

func skipEndTag(s string, p int) int {
	if p >= len(s) {
		return len(s)
	}
	if e := strings.IndexByte(s[p:], '>'); e >= 0 {
		return p + e + 1
	}
	return len(s)
}

func skipRawText(s string, j int, name string) int {
	return skipEndTag(s, findEndTag(s, j, name))
}

func isBlock(name string) bool {
	switch name {
	case "p", "div", "br", "li", "ul", "ol", "tr", "table", "thead", "tbody",
		"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
		"section", "article", "header", "footer", "address", "dl", "dd", "dt",
		"figure", "figcaption", "main", "nav", "aside", "caption", "details", "summary":
		return true
	}
	return false
}

func isCell(name string) bool { return name == "td" || name == "th" }

// tidy collapses whitespace within lines, removes invisible format and
// control characters (zero-width spaces, bidi overrides), trims lines and
// drops empty ones.
func tidy(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	line := make([]rune, 0, 128)
	space := false
	flush := func() {
		if len(line) > 0 {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(string(line))
		}
		line = line[:0]
		space = false
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || r == '\u0085':
			flush()
		case unicode.IsSpace(r):
			space = len(line) > 0
		case r == utf8.RuneError, unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
			// dropped: invisible or broken
		default:
			if space {
				line = append(line, ' ')
				space = false
			}
			line = append(line, r)
		}
	}
	flush()
	return b.String()
}

// PlainText returns a message body as plain text: HTML is converted, text
// is tidied the same way.
func PlainText(contentType, content string) string {
	if strings.EqualFold(strings.TrimSpace(contentType), "text") {
		if len(content) > MaxTextBytes {
			content = content[:MaxTextBytes]
		}
		return tidy(content)
	}
	return HTMLToText(content)
}

// foldRune folds case and typographic variants so matching is generous;
// it maps one rune to one rune, which keeps positions aligned.
func foldRune(r rune) rune {
	switch r {
	case '\n':
		return ' '
	case '\u2018', '\u2019', '\u02BC', '`', '\u00B4':
		return '\''
	case '\u201C', '\u201D', '\u00AB', '\u00BB':
		return '"'
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return '-'
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// Fold is the matching form of plain text (or a pattern): case folded,
// whitespace collapsed to single spaces, trimmed.
func Fold(s string) string {
	rs := []rune(tidy(s))
	for i, r := range rs {
		rs[i] = foldRune(r)
	}
	return string(rs)
}
