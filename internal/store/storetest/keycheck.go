package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// keyCheck reads the key check and fails on an error.
func keyCheck(t *testing.T, s store.Store) string {
	t.Helper()
	got, err := s.KeyCheck(t.Context())
	if err != nil {
		t.Fatalf("KeyCheck: %v", err)
	}
	return got
}

func exerciseKeyCheck(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"NewDatabaseHasNone": func(t *testing.T, s store.Store) {
			if got := keyCheck(t, s); got != "" {
				t.Errorf("KeyCheck of a new database = %q, want \"\"", got)
			}
		},
		"InitWritesOnce": func(t *testing.T, s store.Store) {
			got, err := s.KeyCheckInit(t.Context(), "check-1")
			if err != nil || got != "check-1" {
				t.Fatalf("first KeyCheckInit = %q, %v; want check-1, nil", got, err)
			}
			got, err = s.KeyCheckInit(t.Context(), "check-2")
			if err != nil || got != "check-1" {
				t.Errorf("second KeyCheckInit = %q, %v; want the first check, nil", got, err)
			}
			if got := keyCheck(t, s); got != "check-1" {
				t.Errorf("KeyCheck = %q, want check-1", got)
			}
		},
		"InitRace": func(t *testing.T, s store.Store) {
			const starts = 8
			answers := make([]string, starts)
			var wg sync.WaitGroup
			for i := range starts {
				wg.Go(func() {
					got, err := s.KeyCheckInit(t.Context(), "check-"+string(rune('a'+i)))
					if err != nil {
						t.Errorf("KeyCheckInit: %v", err)
					}
					answers[i] = got
				})
			}
			wg.Wait()
			stored := keyCheck(t, s)
			for i, got := range answers {
				if got != stored {
					t.Errorf("start %d was told the check is %q, but %q is stored", i, got, stored)
				}
			}
		},
		"SetReplaces": func(t *testing.T, s store.Store) {
			if err := s.KeyCheckSet(t.Context(), "first"); err != nil {
				t.Fatalf("KeyCheckSet on a new database: %v", err)
			}
			if err := s.KeyCheckSet(t.Context(), "rotated"); err != nil {
				t.Fatalf("KeyCheckSet: %v", err)
			}
			if got := keyCheck(t, s); got != "rotated" {
				t.Errorf("KeyCheck = %q, want rotated", got)
			}
		},
		"NotASecret": func(t *testing.T, s store.Store) {
			// The check is not a job's or a run's secret: the walk and
			// the rewrite of secrets leave it alone.
			if _, err := s.KeyCheckInit(t.Context(), "old:check"); err != nil {
				t.Fatal(err)
			}
			checkSecrets(t, nil, walkSecrets(t, s))
			if _, _, err := s.SecretsRewrite(t.Context(), func(string) (string, error) { return "new", nil }); err != nil {
				t.Fatal(err)
			}
			if got := keyCheck(t, s); got != "old:check" {
				t.Errorf("KeyCheck after SecretsRewrite = %q, want it unchanged", got)
			}
		},
		"Invalid": func(t *testing.T, s store.Store) {
			for _, token := range []string{"", strings.Repeat("g", 5000)} {
				_, err := s.KeyCheckInit(t.Context(), token)
				requireKind(t, err, connecthub.KindInvalid)
				requireKind(t, s.KeyCheckSet(t.Context(), token), connecthub.KindInvalid)
			}
			if got := keyCheck(t, s); got != "" {
				t.Errorf("KeyCheck after refused writes = %q, want \"\"", got)
			}
		},
	})
}
