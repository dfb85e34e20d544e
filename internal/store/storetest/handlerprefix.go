package storetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseClaimHandlerPrefix checks RunClaimParams.HandlerPrefixes: a node
// that advertises a wildcard handler ("py:*") claims every run whose
// handler starts with the prefix, matched literally (a _ or % in a handler
// name is no pattern), next to the handlers it names exactly.
func exerciseClaimHandlerPrefix(t *testing.T, newStore NewStoreFunc) {
	// queued creates one job per handler and queues a run of each, keyed
	// by handler.
	queued := func(t *testing.T, s store.Store, handlers ...string) map[string]string {
		byHandler := make(map[string]string, len(handlers))
		for i, h := range handlers {
			j := newJob(t, s, "j"+string(rune('a'+i)), func(j *connecthub.Job) { j.Handler = h })
			byHandler[h] = queuedRun(t, s, j, t0).ID
		}
		return byHandler
	}
	pick := func(byHandler map[string]string, handlers ...string) []string {
		var out []string
		for _, h := range handlers {
			out = append(out, byHandler[h])
		}
		slices.Sort(out)
		return out
	}
	sorted := func(runs []*connecthub.Run) []string {
		out := ids(runs)
		slices.Sort(out)
		return out
	}
	all := []string{"noop", "py:ext.a.job:A", "py:ext.b.job.B", "py", "pyx:y", "a_b", "axb", "a%c"}
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"PrefixOnly": func(t *testing.T, s store.Store) {
			runs := queued(t, s, all...)
			got := claim(t, s, store.RunClaimParams{HandlerPrefixes: []string{"py:"}, Now: t0})
			checkStrings(t, "py: runs", pick(runs, "py:ext.a.job:A", "py:ext.b.job.B"), sorted(got))
		},
		"PrefixAndHandlers": func(t *testing.T, s store.Store) {
			runs := queued(t, s, all...)
			got := claim(t, s, store.RunClaimParams{Handlers: []string{"noop"}, HandlerPrefixes: []string{"py:", "py:ext."}, Now: t0})
			checkStrings(t, "noop and py: runs", pick(runs, "noop", "py:ext.a.job:A", "py:ext.b.job.B"), sorted(got))
		},
		"Literal": func(t *testing.T, s store.Store) {
			runs := queued(t, s, all...)
			got := claim(t, s, store.RunClaimParams{HandlerPrefixes: []string{"a_", "a%"}, Now: t0})
			checkStrings(t, "a_ and a% literally", pick(runs, "a_b", "a%c"), sorted(got))
		},
		"CompleteAndClaim": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			runs := queued(t, s, "noop", "py:ext.a.job:A")
			held := claim(t, s, store.RunClaimParams{Handlers: []string{"noop"}, Now: t0})
			applied, got := completeAndClaim(t, cc, []store.RunOutcome{success(held[0], node1, t0)},
				store.RunClaimParams{HandlerPrefixes: []string{"py:"}, Now: t0})
			if !applied[0] {
				t.Error("the completion was not applied")
			}
			checkStrings(t, "py: run", pick(runs, "py:ext.a.job:A"), sorted(got))
		},
		"BadParams": func(t *testing.T, s store.Store) {
			good := store.RunClaimParams{Node: node1, Queues: []string{"default"}, Max: 1, LeaseTTL: ttl, Now: t0}
			for name, mutate := range map[string]func(*store.RunClaimParams){
				"empty prefix": func(p *store.RunClaimParams) { p.HandlerPrefixes = []string{"py:", ""} },
				"too many": func(p *store.RunClaimParams) {
					for i := range store.MaxClaimHandlers {
						p.Handlers = append(p.Handlers, "h"+strconv.Itoa(i))
					}
					p.HandlerPrefixes = []string{"py:"}
				},
			} {
				p := good
				mutate(&p)
				if _, err := s.RunClaim(t.Context(), p); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: RunClaim = %v, want an invalid error", name, err)
				}
			}
		},
	})
}
