package redisproc

import (
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	var b tailBuffer
	b.Write([]byte("first line\n"))
	mark := b.mark()
	b.Write([]byte("second\n"))
	if got := b.since(mark); got != "second\n" {
		t.Errorf("since(mark) = %q", got)
	}
	line := strings.Repeat("x", 99) + "\n"
	for range 3 * tailSize / len(line) {
		b.Write([]byte(line))
	}
	s := b.String()
	if len(s) > tailSize || !strings.HasPrefix(s, "x") || strings.Contains(s, "first") {
		t.Errorf("String() kept %d bytes starting %q", len(s), s[:10])
	}
	if got := b.since(mark); len(got) > 2*tailSize || !strings.HasSuffix(got, line) {
		t.Errorf("since(old mark) = %d bytes", len(got))
	}
}
