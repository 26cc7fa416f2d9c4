package redisproc

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+OK\r\n", "OK"},
		{":-42\r\n", "-42"},
		{"$5\r\na\r\nbc\r\n", "a\r\nbc"},
		{"$0\r\n\r\n", ""},
		{"*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n-ERR x\r\n", "a\n\n1\nERR x"},
		{"*0\r\n", ""},
	} {
		v, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := replyText(v); got != c.want {
			t.Errorf("%q = %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []string{"$-1\r\n", "*-1\r\n"} {
		if v, err := readReply(bufio.NewReader(strings.NewReader(in))); err != nil || v != nil {
			t.Errorf("%q = %v, %v; want nil", in, v, err)
		}
	}
	for _, in := range []string{"", "+OK\n", "?x\r\n", "$3\r\nab", "$x\r\n", ":x\r\n", "*2\r\n+a\r\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%q parsed without error", in)
		}
	}
}

func TestAppendCommand(t *testing.T) {
	got := string(appendCommand(nil, []string{"SET", "k", ""}))
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"; got != want {
		t.Errorf("appendCommand = %q, want %q", got, want)
	}
}

func TestRedirection(t *testing.T) {
	for _, c := range []struct{ msg, kind, addr string }{
		{"MOVED 3999 127.0.0.1:7001", "MOVED", "127.0.0.1:7001"},
		{"ASK 3999 127.0.0.1:7002", "ASK", "127.0.0.1:7002"},
		{"MOVED 3999 :7003", "MOVED", "127.0.0.1:7003"},
	} {
		kind, addr, ok := redirection(c.msg)
		if !ok || kind != c.kind || addr != c.addr {
			t.Errorf("%q = %q, %q, %v", c.msg, kind, addr, ok)
		}
	}
	for _, msg := range []string{"ERR x", "CLUSTERDOWN The cluster is down", "MOVED 1"} {
		if _, _, ok := redirection(msg); ok {
			t.Errorf("%q taken for a redirection", msg)
		}
	}
}
