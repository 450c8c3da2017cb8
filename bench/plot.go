package main

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot files, in the docs directory.
const (
	plotThroughput = "bench-throughput.png"
	plotLatency    = "bench-latency.png"
	plotFailover   = "bench-failover.png"
)

var (
	colOurs  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colFloor = color.RGBA{R: 127, G: 127, B: 127, A: 255}
	colPeer  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colNoop  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colSleep = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colLimit = color.RGBA{R: 44, G: 160, B: 44, A: 255}
)

func writePlots(r *Results, dir string) error {
	if r.Ingest != nil || r.Peer != nil {
		if err := throughputPlot(r, filepath.Join(dir, plotThroughput)); err != nil {
			return err
		}
	}
	if r.E2E != nil {
		if err := latencyPlot(r, filepath.Join(dir, plotLatency)); err != nil {
			return err
		}
	}
	if r.Failover != nil && len(r.Failover.Kill)+len(r.Failover.Term) > 0 {
		if err := failoverPlot(r, filepath.Join(dir, plotFailover)); err != nil {
			return err
		}
	}
	return nil
}

type bar struct {
	label  string
	value  float64
	lo, hi float64
	col    color.Color
}

func throughputPlot(r *Results, path string) error {
	var bars []bar
	if in := r.Ingest; in != nil {
		labels := map[string]string{"one": "dispatcher\n1 instance", "three": "dispatcher\n3 instances",
			"floor": "floor\nnet/http+XADD", "redis-benchmark": "redis-benchmark\nXADD"}
		for _, c := range in.Configs {
			if labels[c.Key] == "" {
				continue // the ledger's reference servers are in the report's tables only
			}
			col := color.Color(colOurs)
			if c.Key == "floor" || c.Key == "redis-benchmark" {
				col = colFloor
			}
			bars = append(bars, bar{labels[c.Key], c.Throughput, c.TputMin, c.TputMax, col})
		}
	}
	if pr := r.Peer; pr != nil {
		for _, s := range pr.Systems {
			label, col := "queue: ours\n(no HTTP)", color.Color(colOurs)
			if s.Name == "asynq" {
				label, col = "queue: asynq\n(no HTTP)", colPeer
			}
			bars = append(bars, bar{label, s.Throughput, s.TputMin, s.TputMax, col})
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput per configuration (median of %d runs; whiskers: min-max)", r.Runs)
	p.Y.Label.Text = "updates per second"
	p.Y.Min = 0
	names := make([]string, len(bars))
	for i, b := range bars {
		names[i] = b.label
		vals := make(plotter.Values, len(bars))
		vals[i] = b.value
		bc, err := plotter.NewBarChart(vals, vg.Points(34))
		if err != nil {
			return err
		}
		bc.Color = b.col
		bc.LineStyle.Width = 0
		p.Add(bc)
		// whisker
		ys := plotter.XYs{{X: float64(i), Y: b.lo}, {X: float64(i), Y: b.hi}}
		if w, err := plotter.NewLine(ys); err == nil && b.hi > b.lo {
			w.Color = color.Black
			w.Width = vg.Points(1.2)
			p.Add(w)
		}
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: math.Max(b.value, b.hi)}},
			Labels: []string{fmt.Sprintf("%.0f", b.value)}})
		if err == nil {
			lbl.Offset = vg.Point{X: -vg.Points(12), Y: vg.Points(3)}
			p.Add(lbl)
		}
	}
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	return p.Save(vg.Points(760), vg.Points(400), path)
}

func latencyPlot(r *Results, path string) error {
	p := plot.New()
	p.Title.Text = "Webhook to handler start, one instance (median of runs)"
	p.X.Label.Text = "offered rate, updates per second"
	p.Y.Label.Text = "latency, ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Min = 0
	lo := 1e9
	series := append(append([]E2EHandler(nil), r.E2E.Handlers...), r.E2E.Peer...)
	for i, h := range series {
		col := color.Color(colNoop)
		switch {
		case i >= len(r.E2E.Handlers):
			col = colPeer
			if len(h.Points) < 2 {
				continue // a single rate: in the table only
			}
		case h.Faults != "":
			col = colSleep
		}
		pts := append([]E2EPoint(nil), h.Points...)
		for _, m := range []*E2EPoint{h.Max, h.Max10} {
			if m != nil {
				pts = append(pts, *m)
			}
		}
		slices.SortStableFunc(pts, func(a, b E2EPoint) int { return cmp.Compare(a.Rate, b.Rate) })
		for _, which := range []string{"p50", "p99"} {
			var xy plotter.XYs
			for _, pt := range pts {
				v := pt.P50
				if which == "p99" {
					v = pt.P99
				}
				v = math.Max(v, 0.1) // log scale
				lo = math.Min(lo, v)
				xy = append(xy, plotter.XY{X: pt.Rate, Y: v})
			}
			line, points, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			line.Color, points.Color = col, col
			if which == "p50" {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				points.Shape = draw.CircleGlyph{}
			} else {
				points.Shape = draw.TriangleGlyph{}
			}
			points.Radius = vg.Points(3)
			p.Add(line, points)
			p.Legend.Add(h.Name+" "+which, line, points)
		}
		if h.Max != nil {
			if lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: h.Max.Rate, Y: math.Max(h.Max.P99, 0.1)}},
				Labels: []string{fmt.Sprintf("max sustained %.0f/s", h.Max.Rate)}}); err == nil {
				lbl.Offset = vg.Point{X: -vg.Points(60), Y: vg.Points(6)}
				lbl.TextStyle[0].Color = col
				p.Add(lbl)
			}
		}
	}
	target := plotter.NewFunction(func(float64) float64 { return 10 })
	target.Color = colLimit
	target.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(target)
	p.Legend.Add("target: p99 10 ms at 1,000/s", target)
	p.Y.Min = math.Min(0.5, lo) * 0.8
	p.Add(plotter.NewGrid())
	_ = plotutil.DefaultColors
	return p.Save(vg.Points(760), vg.Points(440), path)
}

func failoverPlot(r *Results, path string) error {
	f := r.Failover
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Time to a new ACTIVE (LEASE_TTL %s), %d trials each", f.LeaseTTL, f.Trials)
	p.X.Label.Text = "trial"
	p.Y.Label.Text = "ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	add := func(name string, vals []float64, col color.Color, shape draw.GlyphDrawer) error {
		var xy plotter.XYs
		for i, v := range vals {
			xy = append(xy, plotter.XY{X: float64(i + 1), Y: math.Max(v, 0.01)})
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		s.Color, s.Shape, s.Radius = col, shape, vg.Points(3.5)
		p.Add(s)
		p.Legend.Add(name, s)
		return nil
	}
	if err := add("after kill -9", f.Kill, colPeer, draw.CircleGlyph{}); err != nil {
		return err
	}
	if err := add("after SIGTERM", f.Term, colOurs, draw.TriangleGlyph{}); err != nil {
		return err
	}
	ttl := parseDurMS(f.LeaseTTL)
	for _, lim := range []struct {
		v    float64
		name string
	}{{ttl + 1000, "target after kill -9: LEASE_TTL + 1 s"}, {500, "target after SIGTERM: 500 ms"}} {
		v := lim.v
		fn := plotter.NewFunction(func(float64) float64 { return v })
		fn.Color = colLimit
		fn.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(fn)
		p.Legend.Add(lim.name, fn)
	}
	p.X.Min, p.X.Max = 0, float64(f.Trials+1)
	lo := 1.0
	for _, v := range f.Term {
		lo = math.Min(lo, v)
	}
	p.Y.Min, p.Y.Max = math.Max(lo*0.8, 0.01), math.Max(ttl+1000, f.KillMax)*3
	p.Add(plotter.NewGrid())
	return p.Save(vg.Points(760), vg.Points(400), path)
}
