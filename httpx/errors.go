package httpx

import "errors"

// ErrNeedMore is returned by Parse when the buffer holds only a prefix of a valid
// request. The caller keeps the bytes, reads more and calls Parse again with all of them.
var ErrNeedMore = errors.New("httpx: need more data")

// ErrNeedBody is the ErrNeedMore of a request whose head is complete and
// whose body is not: unlike after other errors, the head's fields of the
// Request are valid, so a server may answer "Expect: 100-continue" now.
// errors.Is(ErrNeedBody, ErrNeedMore) is true.
var ErrNeedBody error = needBody{}

type needBody struct{}

func (needBody) Error() string        { return "httpx: need more data (body)" }
func (needBody) Is(target error) bool { return target == ErrNeedMore }

// Error is a parse error that maps to an HTTP status. After one the caller should
// answer with Status (see AppendError) and close the connection: the stream is no
// longer framed. Error values are immutable and shared.
type Error struct {
	Status int    // HTTP status code to answer with
	Msg    string // short reason, without the "httpx: " prefix
}

// Error returns "httpx: " followed by Msg.
func (e *Error) Error() string { return "httpx: " + e.Msg }

// Is makes errors.Is(err, ErrMalformed) true for every 400 error of this package,
// including the more specific ones (invalid method, bad Content-Length, ...).
func (e *Error) Is(target error) bool {
	return target == error(ErrMalformed) && e.Status == 400
}

// Exported parse errors, one per status.
var (
	ErrMalformed      = &Error{400, "malformed request"}
	ErrHeaderTooLarge = &Error{431, "request header too large"}
	ErrBodyTooLarge   = &Error{413, "request body too large"}
	ErrLengthRequired = &Error{411, "length required"}
	ErrVersion        = &Error{505, "http version not supported"}
	ErrExpectation    = &Error{417, "unsupported expectation"}
)

// More specific 400 errors. They match ErrMalformed under errors.Is.
var (
	errRequestLine       = &Error{400, "malformed request line"}
	errBareCR            = &Error{400, "bare CR in request head"}
	errMethod            = &Error{400, "invalid method"}
	errTarget            = &Error{400, "invalid request target"}
	errPathEscape        = &Error{400, "invalid escape in request path"}
	errHeaderLine        = &Error{400, "malformed header line"}
	errHeaderName        = &Error{400, "invalid header name"}
	errHeaderValue       = &Error{400, "invalid header value"}
	errObsFold           = &Error{400, "obsolete header line folding"}
	errDuplicateHost     = &Error{400, "duplicate Host header"}
	errMissingHost       = &Error{400, "missing Host header"}
	errContentLength     = &Error{400, "invalid Content-Length"}
	errConflictingLength = &Error{400, "conflicting Content-Length values"}
	errTEWithLength      = &Error{400, "Transfer-Encoding with Content-Length"}
	errTransferEncoding  = &Error{400, "unsupported Transfer-Encoding"}
)

// StatusOf returns the status to answer a parse error with: the Status of an *Error
// found by errors.As, 400 for any other non-nil error (ErrNeedMore included, which is
// not a failure and should not be passed here), and 0 for nil.
func StatusOf(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}
