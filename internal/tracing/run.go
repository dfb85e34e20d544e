package tracing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/connecthub/connecthub"
)

// A run's trace id is its id: a run id is a ULID, whose 128 bits are a
// trace id as they are, so an operator who has a run id finds its trace
// without looking anything up (and a run id that is not a ULID, say an
// imported one, is hashed). Each attempt is a span of that trace whose id is
// derived from the run id and the attempt number, so that a span can link
// to another run's attempt knowing only its id: that is how a retry links
// to the run it retries, and how chained runs can link to their parent.

// RunTraceID is the trace id of the run runID.
func RunTraceID(runID string) trace.TraceID {
	if u, err := ulid.ParseStrict(runID); err == nil {
		var tid trace.TraceID
		copy(tid[:], u[:])
		if tid.IsValid() {
			return tid
		}
	}
	sum := sha256.Sum256([]byte("connecthub run " + runID))
	var tid trace.TraceID
	copy(tid[:], sum[:16])
	return tid
}

// AttemptSpanID is the span id of attempt number attempt of the run runID.
func AttemptSpanID(runID string, attempt int) trace.SpanID {
	sum := sha256.Sum256([]byte("connecthub attempt " + runID + "/" + strconv.Itoa(attempt)))
	var sid trace.SpanID
	copy(sid[:], sum[:8])
	if !sid.IsValid() {
		sid[7] = 1
	}
	return sid
}

// RunLink is a link to attempt number attempt of the run runID, which
// need not have run in this process.
func RunLink(runID string, attempt int, relation string) trace.Link {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    RunTraceID(runID),
		SpanID:     AttemptSpanID(runID, attempt),
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	return trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("connecthub.link", relation)}}
}

// runLinks are the links of an attempt's span: to the attempt before it,
// and to the run this one retries. A run that another run started (a
// chain) links its parent here too, once runs record their parent.
func runLinks(run *connecthub.Run) []trace.Link {
	var links []trace.Link
	if run.Attempt > 1 {
		links = append(links, RunLink(run.ID, run.Attempt-1, "previous_attempt"))
	}
	if of := run.Snapshot.Meta.RetryOf; of != "" && of != run.ID {
		links = append(links, RunLink(of, 1, "retry_of"))
	}
	return links
}

// idsKey carries, in the context of a span about to start, the ids that
// runIDs must give it.
type idsKey struct{}

type spanIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

// runIDs is the provider's IDGenerator: the ids a run's span asks for
// through the context, random ids for every other span.
type runIDs struct{}

// NewIDs implements sdktrace.IDGenerator.
func (runIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(idsKey{}).(spanIDs); ok {
		return ids.trace, ids.span
	}
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, randomSpanID()
}

// NewSpanID implements sdktrace.IDGenerator.
func (runIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	return randomSpanID()
}

func randomSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// RunSpan is the span of one run attempt. A nil *RunSpan does nothing.
type RunSpan struct{ span trace.Span }

// StartRun starts the span of the attempt run is at, as the root of the
// run's trace, on node; the context returned carries it, so that spans the
// handler starts (its HTTP calls) are its children. With tracing off it
// returns ctx and nil.
func (t *Tracing) StartRun(ctx context.Context, run *connecthub.Run, node string) (context.Context, *RunSpan) {
	if t == nil {
		return ctx, nil
	}
	idCtx := context.WithValue(ctx, idsKey{}, spanIDs{trace: RunTraceID(run.ID), span: AttemptSpanID(run.ID, run.Attempt)})
	_, span := t.tracer.Start(idCtx, "run "+run.JobID,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(runLinks(run)...),
		trace.WithAttributes(
			attribute.String("connecthub.job.id", run.JobID),
			attribute.String("connecthub.run.id", run.ID),
			attribute.Int("connecthub.run.attempt", run.Attempt),
			attribute.Int("connecthub.run.max_attempts", run.MaxAttempts),
			attribute.String("connecthub.run.trigger", string(run.Trigger)),
			attribute.String("connecthub.run.queue", run.Queue),
			attribute.String("connecthub.handler", run.Snapshot.Handler),
			attribute.String("connecthub.node", node),
		))
	return trace.ContextWithSpan(ctx, span), &RunSpan{span: span}
}

// maxErrorBytes bounds the error text a span carries.
const maxErrorBytes = 1024

// End ends the attempt's span with how it ended: status is the run's
// status (SUCCESS, FAILURE, CANCELED), RETRY for a failed attempt that is
// queued again, or what happened instead (handed back, lease lost); errText
// must already be masked, since it leaves the process.
func (s *RunSpan) End(status, errText string) {
	if s == nil {
		return
	}
	s.span.SetAttributes(attribute.String("connecthub.run.status", status))
	if errText != "" {
		if len(errText) > maxErrorBytes {
			cut := maxErrorBytes
			for cut > 0 && !utf8.RuneStart(errText[cut]) {
				cut--
			}
			errText = errText[:cut] + "…"
		}
		s.span.SetStatus(codes.Error, errText)
	} else if status == string(connecthub.StatusSuccess) {
		s.span.SetStatus(codes.Ok, "")
	}
	s.span.End()
}
