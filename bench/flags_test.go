package main

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"64GiB": 64 << 30, "1.5K": 1536, "4KiB": 4096, "100": 100, "2MB": 2 << 20, "1T": 1 << 40} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestPerSecond(t *testing.T) {
	var v float64
	for in, want := range map[string]float64{"10/s": 10, "600/m": 10, "3600/h": 1, "2.5": 2.5} {
		if err := (perSecond{&v}).Set(in); err != nil || v != want {
			t.Errorf("%q: %v %v, want %v", in, v, err, want)
		}
	}
}

func TestFlagsDefaults(t *testing.T) {
	c, err := parseFlags([]string{"--cores", "16", "--mem", "64GiB", "--event-rate", "10/s", "--sizes", "1000,19000"})
	if err != nil || c.host.Mem != 64<<30 || c.host.EventRate != 10 || len(c.sizes) != 2 || c.sizes[1] != 19000 || len(c.fanouts) != 4 {
		t.Fatalf("%+v %v", c, err)
	}
}
