package httpx

import "bytes"

// Byte strings the parser compares against and the writers append. They live in one
// file so the hot path uses constants and never builds a string.
const (
	strCRLF          = "\r\n"
	strHTTPPrefix    = "HTTP/"
	strHTTP10        = "HTTP/1.0"
	strHTTP11        = "HTTP/1.1"
	strSchemeHTTP    = "http://"
	strSchemeHTTPS   = "https://"
	strMethodOptions = "OPTIONS"
	strMethodConnect = "CONNECT"

	strHost             = "Host"
	strConnection       = "Connection"
	strContentLength    = "Content-Length"
	strTransferEncoding = "Transfer-Encoding"
	strCookie           = "Cookie"
	strContentType      = "Content-Type"
	strExpect           = "Expect"
	strContinue         = "100-continue"

	strChunked   = "chunked"
	strClose     = "close"
	strKeepAlive = "keep-alive"

	strStatusLinePrefix = "HTTP/1.1 "
	strColonSpace       = ": "
	strConnectionClose  = "Connection: close\r\n"
	strJSONContentType  = "application/json"
	strErrorBodyPrefix  = `{"error":`
	strErrorBodySuffix  = `}`
	strHexDigits        = "0123456789abcdef"
)

// Character classes, indexed by byte. Immutable after package initialisation.
var (
	// tokenTable: RFC 9110 tchar, used for methods and header names.
	tokenTable = makeTable(func(c byte) bool {
		return isAlnum(c) || indexOf("!#$%&'*+-.^_`|~", c)
	})
	// targetTable: bytes allowed anywhere in a request target: no CTL, SP or DEL
	// (net/url rejects the same CTL set; obs-text is let through like net/http does).
	targetTable = makeTable(func(c byte) bool { return c > ' ' && c != 0x7f })
	// valueTable: header field value bytes: HT, SP, VCHAR and obs-text.
	valueTable = makeTable(func(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) })
	// hostTable: reg-name without pct-encoding (unreserved and sub-delims), for absolute-form.
	hostTable = makeTable(func(c byte) bool {
		return isAlnum(c) || indexOf("-._~!$&'()*+,;=", c)
	})
	// ipv6Table: bytes of an IPv6 literal between brackets (the address is checked with netip).
	ipv6Table = makeTable(func(c byte) bool { return hexValue[c] >= 0 || c == ':' || c == '.' })
	// jsonSafeTable: ASCII bytes a JSON string literal carries unescaped.
	jsonSafeTable = makeTable(func(c byte) bool { return c >= ' ' && c < 0x80 && c != '"' && c != '\\' })
)

// hexValue maps a hex digit to its value and every other byte to -1. Immutable.
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range []byte("0123456789abcdef") {
		t[c] = int8(i)
	}
	for i, c := range []byte("ABCDEF") {
		t[c] = int8(10 + i)
	}
	return t
}()

func makeTable(in func(c byte) bool) (t [256]bool) {
	for i := range t {
		t[i] = in(byte(i))
	}
	return t
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func indexOf(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// allIn reports whether every byte of b is in the class t. It checks eight bytes per
// step when it can: header values make up most of a request.
func allIn(t *[256]bool, b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if !t[b[0]] || !t[b[1]] || !t[b[2]] || !t[b[3]] || !t[b[4]] || !t[b[5]] || !t[b[6]] || !t[b[7]] {
			return false
		}
	}
	for _, c := range b {
		if !t[c] {
			return false
		}
	}
	return true
}

// lower returns the ASCII lower case of c.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b and s are equal under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// hasPrefix reports whether b starts with s.
func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// hasPrefixFold reports whether b starts with s under ASCII case folding.
func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

// trimOWS trims leading and trailing SP and HT. The result is a subslice of b.
func trimOWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

// cut splits b around the first sep. When sep is absent it returns b, nil, false.
func cut(b []byte, sep byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// containsToken reports whether the comma-separated list v holds token (ASCII
// case-insensitive, elements trimmed of SP and HT), like httpguts.HeaderValuesContainsToken.
func containsToken(v []byte, token string) bool {
	for {
		elem, rest, more := cut(v, ',')
		if equalFold(trimOWS(elem), token) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}
