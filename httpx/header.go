package httpx

import (
	"bytes"
	"math"
)

// parseHeaderLine parses one "name: value" line and records what the framing and
// keep-alive decisions need.
func (r *Request) parseHeaderLine(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	name, value, ok := cut(line, ':')
	if !ok {
		return errHeaderLine
	}
	if len(name) == 0 || !allIn(&tokenTable, name) {
		return errHeaderName
	}
	if !allIn(&valueTable, value) {
		return errHeaderValue
	}
	value = trimOWS(value)
	r.Headers = append(r.Headers, Header{Name: name, Value: value})
	return r.noteHeader(name, value)
}

// noteHeader handles the headers that affect framing or the connection.
func (r *Request) noteHeader(name, value []byte) error {
	switch len(name) {
	case len(strHost):
		if equalFold(name, strHost) {
			if r.hasHost {
				return errDuplicateHost
			}
			r.hasHost = true
		}
	case len(strConnection):
		if equalFold(name, strConnection) {
			r.close = r.close || containsToken(value, strClose)
			r.keep = r.keep || containsToken(value, strKeepAlive)
		}
	case len(strExpect):
		if equalFold(name, strExpect) {
			r.expect = value
		}
	case len(strContentLength):
		if equalFold(name, strContentLength) {
			return r.noteContentLength(value)
		}
	case len(strTransferEncoding):
		if equalFold(name, strTransferEncoding) {
			r.hasTE, r.te = true, value
		}
	}
	return nil
}

// noteContentLength parses a Content-Length value, which may be a comma-separated
// list. Every element of every Content-Length header must be the same digit string
// as the first one (RFC 9110 section 8.6); "5" and "05" count as different, as in net/http.
func (r *Request) noteContentLength(v []byte) error {
	for {
		elem, rest, more := cut(v, ',')
		elem = trimOWS(elem)
		n, ok := parseDecimal(elem)
		switch {
		case !ok:
			return errContentLength
		case r.ContentLength < 0:
			r.rawCL, r.ContentLength = elem, n
		case !bytes.Equal(elem, r.rawCL):
			return errConflictingLength
		}
		if !more {
			return nil
		}
		v = rest
	}
}

// parseDecimal parses a non-empty string of ASCII digits that fits in an int64.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// checkFraming rejects the message framings this parser does not support. Chunked
// bodies are ErrLengthRequired (411: the client may retry with Content-Length). Any
// Transfer-Encoding whose final coding is not chunked makes the body length
// undeterminable, and Transfer-Encoding with Content-Length smells of smuggling: both
// are 400, as RFC 9112 section 6.3 asks. This holds for HTTP/1.0 requests too
// (net/http ignores Transfer-Encoding there; we refuse it).
func (r *Request) checkFraming() error {
	if !r.hasTE {
		return nil
	}
	if r.ContentLength >= 0 {
		return errTEWithLength
	}
	last := r.te
	if i := bytes.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if equalFold(trimOWS(last), strChunked) {
		return ErrLengthRequired
	}
	return errTransferEncoding
}
