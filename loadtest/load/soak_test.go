package load

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// TestSoakE2E runs a small soak against the real server: 200 streams on
// 10 channels for 15 s, 10 % of them dropping every 1–3 s, at 4 events/s
// so that the 1 s heartbeat fires between events. Every subscriber must
// end with every event once and in order, and the samples must be there;
// RSS flatness is reported, not asserted (a 15 s run is still warming up).
func TestSoakE2E(t *testing.T) {
	srv := startServer(t, "--heartbeat", "1s", "--replay-buffer", "200")
	p := SoakParams{Streams: 200, Channels: 10, Duration: 15 * time.Second, Churn: 0.1,
		HoldMin: time.Second, HoldMax: 3 * time.Second, MaxDown: 500 * time.Millisecond, Rate: 4,
		Sample: 3 * time.Second, Drain: 10 * time.Second, GoroutineSlack: 10, Heartbeat: time.Second, Seed: 3}
	env := &Env{PerWorker: 100, Deadline: time.Now().Add(2 * time.Minute)}
	res, out, err := Soak(env, &srv.Target, p)
	if err != nil {
		t.Fatal(err)
	}
	rep, c, v := out.Report, out.Report.Checks, out.Verdict
	t.Logf("verdict: %s", v)
	if out.Opened != 200 || out.Churners != 20 || out.PerChannel != 6 {
		t.Fatalf("opened %d, churners %d, per channel %d; notes %v", out.Opened, out.Churners, out.PerChannel, res.Notes)
	}
	if !c.Clean() || c.Received != 200*out.PerChannel || rep.Done != 200 || c.Resets != 0 {
		t.Fatalf("checks %+v, done %d; notes %v", c, rep.Done, res.Notes)
	}
	if rep.Drops == 0 || rep.Reconnects != rep.Drops {
		t.Fatalf("%d drops, %d resumes", rep.Drops, rep.Reconnects)
	}
	if rep.Heartbeats == 0 || out.Samples[len(out.Samples)-1].Heartbeats <= 0 {
		t.Fatalf("heartbeats: %d seen, last sample %+v", rep.Heartbeats, out.Samples[len(out.Samples)-1])
	}
	if len(out.Samples) != 6 || v.RefAt < 2*time.Second || v.RefAt > 4*time.Second || !v.GoroutinesFlat {
		t.Fatalf("samples %+v, verdict %+v", out.Samples, v)
	}
	for _, s := range out.Samples {
		if s.RSS <= 0 || s.Streams < 150 || s.Streams > 200 {
			t.Fatalf("sample %+v", s)
		}
	}
	if err := xml.Unmarshal([]byte(SoakPlot(out).SVG()), new(struct{})); err != nil {
		t.Fatalf("plot is not well-formed: %v", err)
	}
}

// TestJudgeSoak checks the flatness rules on made-up samples.
func TestJudgeSoak(t *testing.T) {
	p := SoakParams{Streams: 10, Duration: 10 * time.Minute, GoroutineSlack: 5}
	mk := func(rss []int64, gor []int) []SoakSample {
		var out []SoakSample
		for i := range rss {
			out = append(out, SoakSample{Elapsed: time.Duration(i) * time.Minute, RSS: rss[i] << 20, Goroutines: gor[i]})
		}
		return out
	}
	gor := []int{12, 12, 13, 12, 12, 14, 12, 12, 12, 12, 12}
	cases := []struct {
		name     string
		rss      []int64
		gor      []int
		c        Checks
		opened   int
		wantRSS  bool // RSSFlat
		wantG    bool // GoroutinesFlat
		pass     bool
		wantText string
	}{
		{"flat", []int64{50, 55, 100, 100, 101, 102, 101, 103, 104, 104, 104}, gor, Checks{}, 10, true, true, true, "PASS"},
		{"grows", []int64{50, 55, 100, 100, 101, 102, 101, 103, 104, 104, 106}, gor, Checks{}, 10, false, true, false, "RSS not flat"},
		{"goroutines", []int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100},
			[]int{12, 12, 12, 12, 12, 18, 12, 12, 12, 12, 12}, Checks{}, 10, true, false, false, "goroutines not flat"},
		{"lost", []int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, gor, Checks{Missing: 1}, 10, true, true, false, "events lost"},
		{"unopened", []int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, gor, Checks{}, 9, true, true, false, "9 of 10 streams"},
	}
	for _, tc := range cases {
		v := JudgeSoak(mk(tc.rss, tc.gor), p, tc.c, tc.opened)
		if v.RefAt != 2*time.Minute || v.RSSFlat != tc.wantRSS || v.GoroutinesFlat != tc.wantG || v.Pass != tc.pass ||
			!strings.Contains(v.String(), tc.wantText) {
			t.Errorf("%s: %+v\n%s", tc.name, v, v)
		}
	}
	if at := SoakRefTime(15 * time.Second); at != 3*time.Second {
		t.Errorf("reference of a 15 s soak at %v, want 3s", at)
	}
}
