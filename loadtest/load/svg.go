package load

import (
	"fmt"
	"math"
	"strings"
)

// PlotSeries is one line of a plot panel.
type PlotSeries struct {
	Name, Color string
	X, Y        []float64
}

// PlotPanel is one chart of a Plot: lines over the shared x axis, y from
// 0. A Band of two values shades that y range (the soak's ±5 % around its
// reference RSS).
type PlotPanel struct {
	YLabel string
	Series []PlotSeries
	Band   []float64
}

// Plot is a small standalone SVG of panels stacked over one x axis, drawn
// by hand as bench/svg.go does, so the tool needs no plotting dependency.
type Plot struct {
	Title, Subtitle, XLabel string
	Panels                  []PlotPanel
}

const (
	plotW, panelH              = 640, 200
	plotL, plotR, plotT, plotB = 70, 150, 48, 50
	panelGap                   = 30
	plotInnerW                 = plotW - plotL - plotR
	plotTicks                  = 4
)

// SVG renders the plot.
func (p *Plot) SVG() string {
	x0, x1 := p.xRange()
	px := func(x float64) float64 { return plotL + (x-x0)/(x1-x0)*plotInnerW }
	h := plotT + len(p.Panels)*panelH + (len(p.Panels)-1)*panelGap + plotB
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="15">%s</text>`+"\n", plotL, svgEsc(p.Title))
	fmt.Fprintf(&b, `<text x="%d" y="33" fill="#555">%s</text>`+"\n", plotL, svgEsc(p.Subtitle))
	for i := range p.Panels {
		top := plotT + i*(panelH+panelGap)
		p.Panels[i].draw(&b, top, px, x0, x1)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", plotL+plotInnerW/2, h-12, svgEsc(p.XLabel))
	b.WriteString("</svg>\n")
	return b.String()
}

// xRange is the span of every series' x values, from 0 when none is
// negative (a time axis).
func (p *Plot) xRange() (x0, x1 float64) {
	x0, x1 = math.Inf(1), math.Inf(-1)
	for _, pn := range p.Panels {
		for _, s := range pn.Series {
			for _, x := range s.X {
				x0, x1 = math.Min(x0, x), math.Max(x1, x)
			}
		}
	}
	if math.IsInf(x0, 0) || x0 == x1 {
		return 0, math.Max(1, x1)
	}
	return math.Min(x0, 0), x1
}

// draw renders the panel with its top edge at top.
func (pn *PlotPanel) draw(b *strings.Builder, top int, px func(float64) float64, x0, x1 float64) {
	y1 := 0.0
	for _, s := range pn.Series {
		for _, y := range s.Y {
			y1 = math.Max(y1, y)
		}
	}
	if len(pn.Band) == 2 {
		y1 = math.Max(y1, pn.Band[1])
	}
	y1 = plotCeil(y1)
	py := func(y float64) float64 { return float64(top+panelH) - y/y1*panelH }
	if len(pn.Band) == 2 {
		fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="#e8f4e8"/>`+"\n",
			plotL, py(pn.Band[1]), plotInnerW, py(pn.Band[0])-py(pn.Band[1]))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", plotL, top, plotInnerW, panelH)
	for i := 0; i <= plotTicks; i++ {
		y := y1 * float64(i) / plotTicks
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, plotL-6, py(y)+4, plotNum(y))
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", plotL, plotL+plotInnerW, py(y), py(y))
		x := x0 + (x1-x0)*float64(i)/plotTicks
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), top+panelH+16, plotNum(x))
	}
	fmt.Fprintf(b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+panelH/2, svgEsc(pn.YLabel))
	for i, s := range pn.Series {
		pts := make([]string, len(s.X))
		for j := range s.X {
			pts[j] = fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j]))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.Join(pts, " "))
		ly := top + 10 + i*18
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, plotW-plotR+10, ly, plotW-plotR+30, ly, s.Color)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", plotW-plotR+35, ly+4, svgEsc(s.Name))
	}
}

// plotCeil rounds v up to 1, 2 or 5 times a power of ten.
func plotCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// plotNum prints an axis label.
func plotNum(v float64) string {
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

func svgEsc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
