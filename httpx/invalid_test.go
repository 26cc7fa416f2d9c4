package httpx

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"
)

type invalidCase struct {
	name    string
	in      string
	maxHead int
	want    *Error
	status  int
}

func invalidCases() []invalidCase {
	many, _ := manyHeaders(MaxHeaders + 1)
	long := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", DefaultMaxHeaderBytes) + "\r\n\r\n"
	cases := []invalidCase{
		{"leading CRLF", "\r\nGET / HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"leading LF", "\nGET / HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"two spaces before target", "GET  / HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"two spaces before version", "GET /  HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"trailing space", "GET / HTTP/1.1 \r\n\r\n", 0, errRequestLine, 400},
		{"tab separator", "GET\t/ HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"no version", "GET /\r\n\r\n", 0, errRequestLine, 400},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"lowercase version", "GET / http/1.1\r\n\r\n", 0, errRequestLine, 400},
		{"version junk", "GET / HTTP/1.1x\r\n\r\n", 0, errRequestLine, 400},
		{"http2", "GET / HTTP/2.0\r\n\r\n", 0, ErrVersion, 505},
		{"http12", "GET / HTTP/1.2\r\n\r\n", 0, ErrVersion, 505},
		{"http2 short", "PRI * HTTP/2\r\n\r\n", 0, ErrVersion, 505},
		{"http09", "GET / HTTP/0.9\r\n\r\n", 0, ErrVersion, 505},
		{"empty method", " / HTTP/1.1\r\n\r\n", 0, errMethod, 400},
		{"bad method", "G@T / HTTP/1.1\r\n\r\n", 0, errMethod, 400},
		{"relative target", "GET a/b HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"asterisk not options", "GET * HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"asterisk with query", "OPTIONS *?x HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"ftp scheme", "GET ftp://h/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"userinfo", "GET http://u:p@h/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"empty host", "GET http:///p HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"bad port", "GET http://h:8x/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"two colons", "GET http://h:1:2/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"ipv4 literal", "GET http://[1.2.3.4]/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"bad ipv6", "GET http://[::g]/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"pct host", "GET http://h%41/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"authority-form", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"connect absolute", "CONNECT http://h/ HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"NUL in target", "GET /a\x00 HTTP/1.1\r\n\r\n", 0, errTarget, 400},
		{"bad escape", "GET /%zz HTTP/1.1\r\n\r\n", 0, errPathEscape, 400},
		{"short escape", "GET /a%4 HTTP/1.1\r\n\r\n", 0, errPathEscape, 400},
		{"bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, errBareCR, 400},
		{"bare CR in header", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0, errBareCR, 400},
		{"CR CR LF", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 0, errBareCR, 400},
		{"CR before end", "GET / HTTP/1.1\r\n\r\r\n", 0, errBareCR, 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, errHeaderName, 400},
		{"empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 0, errHeaderName, 400},
		{"non-token name", "GET / HTTP/1.1\r\nX(y): a\r\n\r\n", 0, errHeaderName, 400},
		{"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 0, errHeaderLine, 400},
		{"control in value", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 0, errHeaderValue, 400},
		{"DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 0, errHeaderValue, 400},
		{"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 0, errObsFold, 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 0, errObsFold, 400},
		{"first header folded", "GET / HTTP/1.1\r\n X: a\r\n\r\n", 0, errObsFold, 400},
		{"duplicate host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 0, errDuplicateHost, 400},
		{"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, errContentLength, 400},
		{"signed length", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 0, errContentLength, 400},
		{"hex length", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 0, errContentLength, 400},
		{"empty length", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 0, errContentLength, 400},
		{"overflow length", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, errContentLength, 400},
		{"empty list element", "POST / HTTP/1.1\r\nContent-Length: 1,,1\r\n\r\n", 0, errContentLength, 400},
		{"conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, errConflictingLength, 400},
		{"conflicting list", "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 0, errConflictingLength, 400},
		{"differently spelled", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", 0, errConflictingLength, 400},
		{"body too large", "POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 0, ErrBodyTooLarge, 413},
		{"http11 without host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 0, errMissingHost, 400},
		{"unknown expectation", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 0, ErrExpectation, 417},
		{"huge length", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", 0, ErrBodyTooLarge, 413},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ErrLengthRequired, 411},
		{"gzip chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: CHUNKED\r\n\r\n", 0, ErrLengthRequired, 411},
		{"chunked http10", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, ErrLengthRequired, 411},
		{"gzip only", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, errTransferEncoding, 400},
		{"chunked then gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, errTransferEncoding, 400},
		{"empty TE", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 0, errTransferEncoding, 400},
		{"TE and CL", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0, errTEWithLength, 400},
		{"too many headers", "GET / HTTP/1.1\r\n" + many + "\r\n", 0, ErrHeaderTooLarge, 431},
		{"long header", long, 0, ErrHeaderTooLarge, 431},
		{"no line end", strings.Repeat("G", DefaultMaxHeaderBytes+1), 0, ErrHeaderTooLarge, 431},
		{"head one over limit", "GET / HTTP/1.1\r\nX: 0123456789\r\n\r\n", 32, ErrHeaderTooLarge, 431},
		{"LF end one over limit", "GET / HTTP/1.1\r\nX: 0123456789\r\n\n", 31, ErrHeaderTooLarge, 431},
	}
	return cases
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidCases() {
		t.Run(c.name, func(t *testing.T) {
			r := Request{MaxHeaderBytes: c.maxHead}
			n, err := r.Parse([]byte(c.in))
			if n != 0 || err != error(c.want) {
				t.Fatalf("Parse = %d, %v; want 0, %v", n, err, c.want)
			}
			if got := StatusOf(err); got != c.status {
				t.Errorf("StatusOf = %d, want %d", got, c.status)
			}
			if c.status == 400 && !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(%v, ErrMalformed) = false", err)
			}
		})
	}
}

// TestParseInvalidPrefixes checks that every prefix of an invalid request gives
// ErrNeedMore until the error shows, and the same error from then on.
func TestParseInvalidPrefixes(t *testing.T) {
	for _, c := range invalidCases() {
		t.Run(c.name, func(t *testing.T) {
			r := Request{MaxHeaderBytes: c.maxHead}
			failed := false
			for k := 0; k <= len(c.in); k++ {
				_, err := r.Parse([]byte(c.in[:k]))
				switch {
				case err == error(c.want):
					failed = true
				case errors.Is(err, ErrNeedMore) && !failed:
				default:
					t.Fatalf("prefix %d: %v (failed before: %v)", k, err, failed)
				}
			}
		})
	}
}

func TestErrorValues(t *testing.T) {
	if got := ErrMalformed.Error(); got != "httpx: malformed request" {
		t.Errorf("Error() = %q", got)
	}
	if errors.Is(ErrBodyTooLarge, ErrMalformed) || errors.Is(ErrNeedMore, ErrMalformed) {
		t.Error("non-400 errors match ErrMalformed")
	}
	if !errors.Is(errTarget, ErrMalformed) || errors.Is(errTarget, ErrVersion) {
		t.Error("errTarget matching is wrong")
	}
	wrapped := errors.Join(errors.New("ctx"), ErrLengthRequired)
	for err, want := range map[error]int{nil: 0, wrapped: 411, errors.New("x"): 400, ErrVersion: 505} {
		if got := StatusOf(err); got != want {
			t.Errorf("StatusOf(%v) = %d, want %d", err, got, want)
		}
	}
}

// acceptedByNetHTTP lists the invalid cases that net/http.ReadRequest accepts, and
// why we refuse them. Every other invalid case must be refused by net/http too.
var acceptedByNetHTTP = map[string]string{
	"http2":                 "ReadRequest parses any HTTP/x.y; its server answers 505 like us",
	"http12":                "HTTP/1.2 is parsed by ReadRequest; we support 1.0 and 1.1 only",
	"http09":                "same as http12",
	"asterisk not options":  "RFC 9112 3.2.4: asterisk-form is for OPTIONS only",
	"ftp scheme":            "absolute-form must be http or https here",
	"userinfo":              "RFC 9110 4.2.4: userinfo is deprecated in http URIs",
	"empty host":            "RFC 9110 4.2.1: an http URI with an empty host is invalid",
	"authority-form":        "CONNECT is not supported",
	"connect absolute":      "CONNECT is not supported",
	"space before colon":    "RFC 9112 5.1: whitespace before the colon must be rejected (net/http keeps it for go.dev/issue/34540)",
	"obs-fold":              "RFC 9112 5.2: a server may reject obs-fold; net/http unfolds",
	"obs-fold tab":          "same as obs-fold",
	"chunked":               "chunked bodies are not supported: 411",
	"chunked http10":        "net/http ignores Transfer-Encoding in HTTP/1.0; we refuse it",
	"TE and CL":             "RFC 9112 6.1: ought to be handled as an error (smuggling)",
	"body too large":        "our body limit",
	"huge length":           "our body limit",
	"http11 without host":   "RFC 9112 3.2: a server must answer 400 (net/http's server does; ReadRequest does not check)",
	"unknown expectation":   "RFC 9110 10.1.1: 417 (net/http's server does; ReadRequest does not check)",
	"too many headers":      "our header count limit",
	"long header":           "our head limit",
	"head one over limit":   "our head limit",
	"LF end one over limit": "our head limit",
}

func TestInvalidAgainstNetHTTP(t *testing.T) {
	for _, c := range invalidCases() {
		_, err := http.ReadRequest(bufio.NewReader(strings.NewReader(c.in)))
		reason, listed := acceptedByNetHTTP[c.name]
		if (err == nil) != listed {
			t.Errorf("%s: net/http error %v, listed as accepted: %v %s", c.name, err, listed, reason)
		}
	}
}
