package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	require.NoError(t, probe(ctx, srv.URL+"/healthz"))

	err := probe(ctx, srv.URL+"/readyz")
	require.ErrorIs(t, err, errStatus)
	require.Contains(t, err.Error(), "503")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	err = probe(ctx, closed.URL+"/healthz")
	require.Error(t, err)
	require.False(t, errors.Is(err, errStatus), "a refused connection is not a status error: %v", err)
}
