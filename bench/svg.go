package main

import (
	"fmt"
	"math"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name  string
	Color string
	X, Y  []float64
}

// Chart is a small line chart rendered as a standalone SVG, written by hand
// so the planner needs no plotting dependency.
type Chart struct {
	Title, XLabel, YLabel string
	LogX                  bool
	Series                []Series
}

const (
	svgW, svgH             = 640, 360
	padL, padR, padT, padB = 70, 150, 40, 50
)

// SVG renders the chart.
func (c *Chart) SVG() string {
	x0, x1, y1 := c.bounds()
	tx := func(x float64) float64 { return x }
	if c.LogX {
		tx = math.Log10
	}
	px := func(x float64) float64 { return padL + (tx(x)-tx(x0))/(tx(x1)-tx(x0))*(svgW-padL-padR) }
	py := func(y float64) float64 { return svgH - padB - y/y1*(svgH-padT-padB) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15">%s</text>`+"\n", padL, esc(c.Title))
	c.axes(&b, px, py, x0, x1, y1)
	for i, s := range c.Series {
		var pts []string
		for j := range s.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.Color)
		}
		ly := padT + 10 + i*18
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, svgW-padR+10, ly, svgW-padR+30, ly, s.Color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", svgW-padR+35, ly+4, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// bounds returns the x range and the top of the y range (y starts at 0).
func (c *Chart) bounds() (x0, x1, y1 float64) {
	x0, x1 = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			x0, x1, y1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i]), math.Max(y1, s.Y[i])
		}
	}
	if math.IsInf(x0, 0) || x0 == x1 {
		x0, x1 = 0, math.Max(1, x1)
		if c.LogX {
			x0, x1 = 1, 10
		}
	}
	return x0, x1, niceCeil(y1)
}

// axes draws the frame, five ticks per axis and the labels.
func (c *Chart) axes(b *strings.Builder, px, py func(float64) float64, x0, x1, y1 float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", padL, padT, svgW-padL-padR, svgH-padT-padB)
	for i := 0; i <= 4; i++ {
		y := y1 * float64(i) / 4
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, py(y)+4, num(y))
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", padL, svgW-padR, py(y), py(y))
		x := x0 + (x1-x0)*float64(i)/4
		if c.LogX {
			x = math.Pow(10, math.Log10(x0)+(math.Log10(x1)-math.Log10(x0))*float64(i)/4)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), svgH-padB+16, num(x))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (padL+svgW-padR)/2, svgH-12, esc(c.XLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (padT+svgH-padB)/2, esc(c.YLabel))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
