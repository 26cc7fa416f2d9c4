package load

import "testing"

func feed(c *SeqCheck, seqs ...int) {
	for _, s := range seqs {
		if s == 0 {
			c.Reset()
			continue
		}
		c.Event(s)
	}
}

func TestSeqCheck(t *testing.T) {
	cases := []struct {
		name string
		seqs []int // 0 = a reset frame
		want Checks
	}{
		{"clean", []int{1, 2, 3, 4, 5}, Checks{Received: 5}},
		{"duplicate", []int{1, 2, 2, 3, 4, 5}, Checks{Received: 6, Duplicated: 1}},
		{"gap", []int{1, 2, 5}, Checks{Received: 3, Missing: 2, Incomplete: 1}},
		{"reorder", []int{1, 3, 2, 4, 5}, Checks{Received: 5, OutOfOrder: 1}},
		{"reset covers the gap", []int{1, 2, 0, 4, 5}, Checks{Received: 4, Resets: 1, Announced: 1}},
		{"reset then replay, no gap", []int{1, 2, 0, 3, 4, 5}, Checks{Received: 5, Resets: 1}},
		{"gap after the reset's resume is missing", []int{1, 0, 3, 5}, Checks{Received: 3, Resets: 1, Announced: 1, Missing: 1, Incomplete: 1}},
		{"tail never came", []int{1, 2, 3}, Checks{Received: 3, Missing: 2, Incomplete: 1}},
		{"reset at the end", []int{1, 2, 3, 0}, Checks{Received: 3, Resets: 1, Announced: 2}},
		{"out of range ignored", []int{1, 2, 3, 4, 5, 99}, Checks{Received: 6}},
	}
	for _, tc := range cases {
		c := NewSeqCheck(5)
		feed(c, tc.seqs...)
		tc.want.Subscribers = 1
		if got := c.Result(5); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestUnpublished: refused publishes are neither missing nor announced,
// whether or not a reset covered them.
func TestUnpublished(t *testing.T) {
	c := NewSeqCheck(6)
	feed(c, 1, 2, 0, 5, 6) // 3 and 4 announced by the reset
	c.Unpublished(3)
	c.Unpublished(3)
	c.Unpublished(2) // received: ignored
	if got := c.Result(6); got != (Checks{Subscribers: 1, Received: 4, Resets: 1, Announced: 1}) {
		t.Fatalf("under a reset: %+v", got)
	}
	c = NewSeqCheck(4)
	feed(c, 1, 2)
	c.Unpublished(3)
	c.Unpublished(4)
	if got := c.Result(4); got != (Checks{Subscribers: 1, Received: 2}) {
		t.Fatalf("tail never published: %+v", got)
	}
}

func TestChecksAdd(t *testing.T) {
	var sum Checks
	sum.Add(Checks{Subscribers: 1, Received: 3, Missing: 1, Incomplete: 1})
	sum.Add(Checks{Subscribers: 1, Received: 5, Duplicated: 2})
	want := Checks{Subscribers: 2, Received: 8, Missing: 1, Duplicated: 2, Incomplete: 1}
	if sum != want || sum.Clean() {
		t.Fatalf("got %+v", sum)
	}
}
