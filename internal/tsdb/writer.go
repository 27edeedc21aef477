package tsdb

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/wire"
)

// Options tune a Writer. The zero value of a field means its default.
type Options struct {
	// BatchLines is the most readings sent in one HTTP request; a Write
	// of more is split. Default 5000, the batch size InfluxDB's write
	// documentation recommends; at 8 values a reading that is about
	// 1.5 MB, well under VictoriaMetrics' 32 MB -maxInsertRequestSize.
	BatchLines int

	// Timeout bounds one HTTP request; a request that takes longer is
	// retried. Default 10 s.
	Timeout time.Duration

	// MinBackoff and MaxBackoff bound the wait before a retry: it starts
	// at MinBackoff, doubles with each failure up to MaxBackoff, and a
	// random part of up to half of it spreads replicas that failed
	// together. Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration

	// Gzip compresses request bodies, worth it across a network link
	// and not on loopback.
	Gzip bool

	// Log receives a line when a write is retried; the zero Logger
	// discards them.
	Log zerolog.Logger
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.BatchLines == 0 {
		o.BatchLines = 5000
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 10 * time.Second
	}
	return o
}

// check refuses options no default can mend.
func (o Options) check() error {
	switch {
	case o.BatchLines < 0:
		return fmt.Errorf("batch lines %d is negative", o.BatchLines)
	case o.Timeout < 0, o.MinBackoff < 0, o.MaxBackoff < 0:
		return fmt.Errorf("timeout %s, min backoff %s or max backoff %s is negative",
			o.Timeout, o.MinBackoff, o.MaxBackoff)
	case o.MinBackoff > o.MaxBackoff:
		return fmt.Errorf("min backoff %s exceeds max backoff %s", o.MinBackoff, o.MaxBackoff)
	}
	return nil
}

// Writer writes readings to one bucket of a time-series database through
// the InfluxDB v2 write API, with the client's blocking write API: a
// Write returns only once the database has answered 204 for every line,
// which is when the ingestor may acknowledge the MQTT messages behind
// it. A Writer is safe for concurrent use; parallel Writes go out as
// parallel requests.
type Writer struct {
	client influxdb2.Client
	api    api.WriteAPIBlocking
	target string // URL and bucket, for errors and logs
	opts   Options
}

// NewWriter returns a Writer for bucket of organisation org at serverURL
// (such as http://127.0.0.1:8428 for VictoriaMetrics, which ignores org,
// bucket and token). It checks its arguments but does not contact the
// server, so that the ingestor starts, and queues, while the database is
// down; ctx is accepted for that reason and not kept.
func NewWriter(ctx context.Context, serverURL, org, bucket, token string,
	opts Options) (*Writer, error) {
	opts = opts.withDefaults()
	if err := checkTarget(serverURL, bucket); err != nil {
		return nil, fmt.Errorf("cannot write to %q: %w", serverURL, err)
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("cannot write to %q: %w", serverURL, err)
	}

	co := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(opts.Gzip).
		// Timeout cuts each attempt short through its context; the
		// client's own timeout, in whole seconds, is only a backstop.
		SetHTTPRequestTimeout(uint(math.Ceil(opts.Timeout.Seconds())) + 1)
	client := influxdb2.NewClientWithOptions(serverURL, token, co)
	return &Writer{
		client: client,
		api:    client.WriteAPIBlocking(org, bucket),
		target: serverURL + " bucket " + bucket,
		opts:   opts,
	}, nil
}

// checkTarget accepts an http or https URL with a host, and a bucket.
func checkTarget(serverURL, bucket string) error {
	u, err := url.Parse(serverURL)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("want http:// or https:// and a host")
	case bucket == "":
		return fmt.Errorf("bucket is empty")
	}
	return nil
}

// Close releases the Writer's idle connections. Writes in progress end
// on their own.
func (w *Writer) Close() {
	w.client.Close()
}

// Write stores the readings of batches, one line each (see Points), in
// requests of at most BatchLines lines, and returns when the database
// has acknowledged them all. Transient failures (no answer, a timeout,
// 408, 429, 5xx) are retried until ctx ends, since the readings are safe
// in the caller's queue meanwhile. A 4xx answer or a reading line
// protocol cannot carry fails with ErrRejected at once.
//
// When a later request fails, earlier ones of the same Write are already
// stored; writing the whole batch again is harmless, since each line
// overwrites itself (docs/tsdb.md).
func (w *Writer) Write(ctx context.Context, batches ...wire.Batch) error {
	pts, err := Points(batches...)
	if err != nil {
		return fmt.Errorf("cannot write readings to %q: %w", w.target, err)
	}

	for len(pts) > 0 {
		n := min(len(pts), w.opts.BatchLines)
		if err := w.send(ctx, pts[:n]); err != nil {
			return fmt.Errorf("cannot write %d readings to %q: %w", n, w.target, err)
		}
		pts = pts[n:]
	}
	return nil
}

// send writes pts in one request, retrying transient failures.
func (w *Writer) send(ctx context.Context, pts []*write.Point) error {
	for attempt := 0; ; attempt++ {
		err := w.post(ctx, pts)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%w; last attempt: %w", ctx.Err(), err)
		case !transient(err):
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}

		wait := backoff(w.opts, attempt, retryAfter(err))
		w.logRetry(attempt, wait, len(pts), err)
		if stop := sleep(ctx, wait); stop != nil {
			return fmt.Errorf("%w; last attempt: %w", stop, err)
		}
	}
}

// post makes one attempt, bounded by the Timeout.
func (w *Writer) post(ctx context.Context, pts []*write.Point) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	return w.api.WritePoint(ctx, pts...)
}

// logRetry reports a retry at attempts 1, 2, 4, 8, ...: a database down
// for an hour gives a dozen lines, not thousands.
func (w *Writer) logRetry(attempt int, wait time.Duration, lines int, err error) {
	n := attempt + 1
	if n&(n-1) != 0 {
		return
	}
	w.opts.Log.Warn().Err(err).
		Str(logging.Addr, w.target).
		Int(logging.Count, lines).
		Int("attempts", n).
		Dur("retry_in", wait).
		Msg("time-series database write failed; retrying")
}
