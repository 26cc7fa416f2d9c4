package main

import (
	"slices"
	"testing"
)

func TestDropFlag(t *testing.T) {
	args := []string{"--heartbeat", "5s", "--max-channels", "100", "-max-channels=7", "--replay-buffer", "200"}
	got := dropFlag(args, "max-channels")
	if want := []string{"--heartbeat", "5s", "--replay-buffer", "200"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestScenarioNames keeps the usage list and the scenario table in step.
func TestScenarioNames(t *testing.T) {
	if len(names()) != len(scenarios) {
		t.Fatalf("names() has %d scenarios, the table %d", len(names()), len(scenarios))
	}
	for _, n := range names() {
		if scenarios[n] == nil {
			t.Fatalf("%s is listed but has no binder", n)
		}
	}
}
