package router

import "time"

// runTimed runs a route's handler (run) and observes its duration in
// dispatcher_handler_duration_seconds by the route's name, a label whose
// values are the routes registered at start.
func (r *Router) runTimed(c *Ctx, rt *route) error {
	start := time.Now()
	err := r.run(c, rt)
	r.metrics.HandlerDuration.WithLabelValues(rt.name).Observe(time.Since(start).Seconds())
	return err
}
