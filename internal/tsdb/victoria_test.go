package tsdb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/esep-kz/esep/internal/testkit"
)

// victoria is testkit's VictoriaMetrics, which deduplicates samples of
// the same series and time as production must (docs/tsdb.md), with
// helpers that fail the test rather than return errors.
type victoria struct {
	*testkit.Victoria
	url string
}

// startVictoria runs VictoriaMetrics on a free loopback port until the
// test ends.
func startVictoria(t testing.TB) *victoria {
	t.Helper()
	v := testkit.StartVictoria(t)
	return &victoria{Victoria: v, url: v.URL()}
}

// Export returns every sample of the series matching match.
func (v *victoria) Export(t testing.TB, match string) []testkit.Series {
	t.Helper()
	all, err := v.Victoria.Export(context.Background(), match)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// Count returns how many samples the series matching match hold.
func (v *victoria) Count(t testing.TB, match string) int {
	t.Helper()
	n, err := v.Victoria.Count(context.Background(), match)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// proxy passes requests on to VictoriaMetrics and counts them; fault, when
// set, may answer request n (from 1) itself instead, as a failing or
// overloaded database would.
type proxy struct {
	srv   *httptest.Server
	hits  atomic.Int32
	fault func(n int32, w http.ResponseWriter) bool
}

func startProxy(t testing.TB, v *victoria, fault func(int32, http.ResponseWriter) bool) *proxy {
	t.Helper()
	target, err := url.Parse(v.url)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{fault: fault}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.hits.Add(1)
		if p.fault != nil && p.fault(n, w) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}
