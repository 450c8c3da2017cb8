package worker

import "context"

type deliveryKey struct{}

// DeliveryFrom returns which delivery of its update a dispatch is (1 for
// the first, counted across instances and restarts, as the stream counts
// them), or 0 outside a dispatch. Forward mode sends it to the upstream bot
// as X-Dispatcher-Delivery.
func DeliveryFrom(ctx context.Context) int64 {
	n, _ := ctx.Value(deliveryKey{}).(int64)
	return n
}

func withDelivery(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, deliveryKey{}, n)
}
