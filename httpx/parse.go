package httpx

import "bytes"

// Parse parses one complete request (head and Content-Length body) at the start of
// buf and returns how many bytes it used; the next pipelined request starts at buf[n:].
//
// It returns ErrNeedMore when buf holds only a prefix of a request; the caller keeps
// the bytes and calls Parse again with more. When the head is complete and only the
// body is missing, the error is ErrNeedBody (which errors.Is ErrNeedMore) and the
// head's fields are valid. A head longer than the head limit is
// reported as ErrHeaderTooLarge as soon as len(buf) exceeds the limit, and a
// Content-Length over the body limit as ErrBodyTooLarge as soon as the head is
// complete, without waiting for the body. Any other problem is an *Error (400, 411,
// 505), after which the connection must be closed.
//
// Each call starts from scratch (it calls Reset): no state is carried between calls
// but the limits and scratch capacity. On error the parsed fields are unspecified.
// Slices stored in r point into buf or r's scratch; see Request.
//
// Compared with net/http's ReadRequest: like it, Parse accepts a bare LF as a line
// end and refuses empty lines before the request line (400), a bare CR, a second Host
// header and differing Content-Length values. It is stricter on HTTP versions (1.0
// and 1.1 only: 505), obsolete line folding and whitespace before a header colon
// (400), the asterisk-form (OPTIONS only), the absolute-form (http or https, plain
// host, no userinfo), CONNECT targets, and any Transfer-Encoding (see checkFraming).
// Like a net/http server (not its ReadRequest), it refuses HTTP/1.1 without Host (400,
// RFC 9112 3.2) and an Expect other than 100-continue (417).
// It is laxer in two places: a Content-Length list of equal values ("5, 5") is taken
// as that value (RFC 9110 section 8.6), and a '#fragment' in the target is dropped.
func (r *Request) Parse(buf []byte) (n int, err error) {
	r.Reset()
	limit := r.headerLimit()
	head := buf
	if len(head) > limit {
		head = head[:limit]
	}
	pos, err := r.parseHead(head)
	if err == ErrNeedMore && len(buf) > limit {
		return 0, ErrHeaderTooLarge
	}
	if err != nil {
		return 0, err
	}
	if err := r.checkFraming(); err != nil {
		return 0, err
	}
	if r.ContentLength > r.bodyLimit() {
		return 0, ErrBodyTooLarge
	}
	if err := r.checkHead(); err != nil {
		return 0, err
	}
	end := pos
	if r.ContentLength > 0 {
		if int64(len(buf)-pos) < r.ContentLength {
			return 0, ErrNeedBody
		}
		end = pos + int(r.ContentLength)
	}
	r.Body = buf[pos:end:end]
	r.KeepAlive = !r.close && (r.ProtoMinor == 1 || r.keep)
	return end, nil
}

// parseHead parses the request line and the header lines of head and returns the
// offset just past the empty line that ends them.
func (r *Request) parseHead(head []byte) (int, error) {
	line, pos, err := readLine(head, 0)
	if err != nil {
		return 0, err
	}
	if err := r.parseRequestLine(line); err != nil {
		return 0, lineError(line, err)
	}
	for {
		line, pos, err = readLine(head, pos)
		if err != nil {
			return 0, err
		}
		if len(line) == 0 {
			return pos, nil
		}
		if len(r.Headers) == MaxHeaders {
			return 0, ErrHeaderTooLarge
		}
		if err := r.parseHeaderLine(line); err != nil {
			return 0, lineError(line, err)
		}
	}
}

// readLine returns the line starting at b[pos:] without its CRLF or bare LF, and the
// offset of the next line. It returns ErrNeedMore when the line has no end yet.
func readLine(b []byte, pos int) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return nil, 0, ErrNeedMore
	}
	line, next = b[pos:pos+i], pos+i+1
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, next, nil
}

// lineError refines the error of a line that failed to parse: a bare CR is what is
// wrong with any line holding one. No line with a CR parses (CR is in none of the
// character classes), so the check waits for the error path.
func lineError(line []byte, err error) error {
	if bytes.IndexByte(line, '\r') >= 0 {
		return errBareCR
	}
	return err
}

// parseRequestLine parses "METHOD SP target SP HTTP/1.x"; exactly one SP separates the parts.
func (r *Request) parseRequestLine(line []byte) error {
	method, rest, ok := cut(line, ' ')
	if !ok {
		return errRequestLine
	}
	target, version, ok := cut(rest, ' ')
	if !ok {
		return errRequestLine
	}
	if err := r.parseVersion(version); err != nil {
		return err
	}
	if len(method) == 0 || !allIn(&tokenTable, method) {
		return errMethod
	}
	r.Method = method
	return r.parseTarget(target)
}

// parseVersion accepts HTTP/1.0 and HTTP/1.1. Other well-formed versions ("HTTP/2.0",
// "HTTP/1.2", "HTTP/2") are ErrVersion (505); anything else is a malformed request line.
func (r *Request) parseVersion(v []byte) error {
	switch string(v) {
	case strHTTP11:
		r.ProtoMinor = 1
		return nil
	case strHTTP10:
		r.ProtoMinor = 0
		return nil
	}
	if !hasPrefix(v, strHTTPPrefix) {
		return errRequestLine
	}
	num := v[len(strHTTPPrefix):]
	if len(num) == 0 || num[0] < '0' || num[0] > '9' {
		return errRequestLine
	}
	for _, c := range num {
		if (c < '0' || c > '9') && c != '.' {
			return errRequestLine
		}
	}
	return ErrVersion
}

// checkHead applies the rules of RFC 9112 and 9110 that concern the head as a
// whole: HTTP/1.1 needs a Host header; the only expectation understood is
// 100-continue (an HTTP/1.0 request's Expect is ignored, RFC 9110 10.1.1).
func (r *Request) checkHead() error {
	if r.ProtoMinor == 1 && !r.hasHost {
		return errMissingHost
	}
	if r.expect != nil && r.ProtoMinor == 1 && !equalFold(r.expect, strContinue) {
		return ErrExpectation
	}
	return nil
}

// ExpectsContinue reports whether the request asked for a "100 Continue"
// before sending its body (an HTTP/1.1 "Expect: 100-continue").
func (r *Request) ExpectsContinue() bool {
	return r.expect != nil && r.ProtoMinor == 1
}
