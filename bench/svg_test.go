package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestChartSVGIsWellFormed(t *testing.T) {
	c := Chart{Title: "RSS <vs> conns", XLabel: "streams", YLabel: "MiB", LogX: true, Series: []Series{
		{Name: "realtime", Color: "#1f77b4", X: []float64{1000, 5000, 19000}, Y: []float64{10, 30, 80}},
	}}
	svg := c.SVG()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, svg)
			}
			break
		}
	}
	if strings.Count(svg, "<circle") != 3 || !strings.Contains(svg, "RSS &lt;vs&gt; conns") {
		t.Fatalf("svg:\n%s", svg)
	}
	if niceCeil(83) != 100 || niceCeil(0.3) != 0.5 || niceCeil(0) != 1 {
		t.Fatal("niceCeil")
	}
}
