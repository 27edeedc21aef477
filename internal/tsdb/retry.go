package tsdb

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// transient reports whether a failed write may succeed when tried again:
// no answer at all (connection refused or reset, a timeout), or an
// answer that says so: 408 Request Timeout, 429 Too Many Requests, or a
// 5xx. Any other 4xx means the request itself is wrong; so does an error
// of the client's encoder, which is not an *http2.Error.
func transient(err error) bool {
	var he *http2.Error
	if !errors.As(err, &he) {
		return false
	}
	switch he.StatusCode {
	case 0, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return he.StatusCode >= 500
}

// retryAfter returns the wait a 429 or 503 answer asked for in its
// Retry-After header, or 0.
func retryAfter(err error) time.Duration {
	var he *http2.Error
	if errors.As(err, &he) {
		return time.Duration(he.RetryAfter) * time.Second
	}
	return 0
}

// backoff returns the wait before retry number attempt+1: MinBackoff
// doubled per earlier failure, at least what the server asked for, at
// most MaxBackoff; then between half and all of it, at random, so that
// replicas that failed together do not retry together.
func backoff(o Options, attempt int, asked time.Duration) time.Duration {
	d := o.MaxBackoff
	// Compared by shifting MaxBackoff down, which cannot overflow.
	if attempt < 63 && o.MinBackoff <= o.MaxBackoff>>attempt {
		d = o.MinBackoff << attempt
	}
	d = min(max(d, asked), o.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits for d or until ctx ends, and then returns its error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
