package inspect

import (
	"context"

	"github.com/dispatcher-bot/dispatcher/internal/deployment"
	"github.com/dispatcher-bot/dispatcher/internal/webhookcheck"
)

// deployment fills in the deployment's recorded mode and bot and the last
// webhook check (issue 24); either is nil when none is recorded.
func (in *Inspector) deployment(ctx context.Context, st *Status) error {
	rec, ok, err := deployment.Read(ctx, in.c.Redis, in.c.Keys)
	if err != nil {
		return err
	}
	if ok {
		st.Deployment = &rec
	}
	st.Webhook, err = webhookcheck.Read(ctx, in.c.Redis, in.c.Keys)
	return err
}
