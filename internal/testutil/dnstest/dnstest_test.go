package dnstest

import (
	"context"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolves(t *testing.T) {
	s := New(t, "dispatcher", "127.0.0.2", "127.0.0.3")
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", s.Addr())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := r.LookupIP(ctx, "ip4", "dispatcher")
	require.NoError(t, err)
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	sort.Strings(got)
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3"}, got)
	_, err = r.LookupIP(ctx, "ip4", "other")
	require.Error(t, err)
}
