package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// storedSecret is one token as SecretTokens reports it.
type storedSecret struct{ kind, id, token string }

func (s storedSecret) String() string { return s.kind + " " + s.id + " " + s.token }

// walkSecrets returns every token SecretTokens reports, in its order, and
// fails on an empty one.
func walkSecrets(t *testing.T, s store.Store) []storedSecret {
	t.Helper()
	var got []storedSecret
	err := s.SecretTokens(t.Context(), func(kind, id, token string) error {
		if token == "" {
			t.Errorf("SecretTokens reported an empty token for %s %s", kind, id)
		}
		got = append(got, storedSecret{kind, id, token})
		return nil
	})
	if err != nil {
		t.Fatalf("SecretTokens: %v", err)
	}
	return got
}

// checkSecrets fails unless got is exactly want, in order.
func checkSecrets(t *testing.T, want, got []storedSecret) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("SecretTokens reported\n%v\nwant\n%v", got, want)
	}
}

// secretFixture is a store with secrets in every place they can be: jobs
// with and without a secret, runs that copied their job's token, a run of
// a job without secrets, and runs whose job's secret changed since.
type secretFixture struct {
	jobA, jobB, jobC *connecthub.Job
	runsA            []*connecthub.Run // with jobA's first token "old:a"
	runB             *connecthub.Run   // no secret
	runC             *connecthub.Run   // with "new:c"
}

// newSecretFixture fills s. Tokens starting "old:" are the ones the tests'
// rewrite changes; "new:" ones it leaves alone.
func newSecretFixture(t *testing.T, s store.Store) *secretFixture {
	t.Helper()
	f := &secretFixture{}
	f.jobA = newJob(t, s, "a", func(j *connecthub.Job) { j.SecretCfg = "old:a" })
	f.jobB = newJob(t, s, "b", func(j *connecthub.Job) { j.SecretCfg, j.HasSecret, j.SecretKeys = "", false, nil })
	f.jobC = newJob(t, s, "c", func(j *connecthub.Job) { j.SecretCfg = "new:c" })
	f.runsA = insertRuns(t, s, manualRun(f.jobA, t0), manualRun(f.jobA, t0.Add(time.Millisecond)))
	f.runB = queuedRun(t, s, f.jobB, t0.Add(2*time.Millisecond))
	f.runC = queuedRun(t, s, f.jobC, t0.Add(3*time.Millisecond))
	// Job a's secret is re-entered: its runs keep the token they copied.
	var err error
	f.jobA, err = s.JobUpdate(t.Context(), "a", func(j *connecthub.Job) error {
		j.SecretCfg = "old:a2"
		return nil
	})
	if err != nil {
		t.Fatalf("JobUpdate: %v", err)
	}
	return f
}

// want returns what SecretTokens must report for the fixture, with the
// "old:" tokens rewritten when rewritten is true.
func (f *secretFixture) want(rewritten bool) []storedSecret {
	tok := func(s string) string {
		if rewritten {
			return strings.Replace(s, "old:", "new:", 1)
		}
		return s
	}
	return []storedSecret{
		{store.SecretKindJob, "a", tok("old:a2")},
		{store.SecretKindJob, "c", "new:c"},
		{store.SecretKindRun, f.runsA[0].ID, tok("old:a")},
		{store.SecretKindRun, f.runsA[1].ID, tok("old:a")},
		{store.SecretKindRun, f.runC.ID, "new:c"},
		// Each job write recorded a revision with the token it wrote.
		{store.SecretKindRevision, store.RevisionKey("a", 1), tok("old:a")},
		{store.SecretKindRevision, store.RevisionKey("a", 2), tok("old:a2")},
		{store.SecretKindRevision, store.RevisionKey("c", 1), "new:c"},
	}
}

// renew is the tests' rewrite: "old:x" becomes "new:x", anything else stays.
func renew(t *testing.T) func(string) (string, error) {
	return func(token string) (string, error) {
		if token == "" {
			t.Errorf("SecretsRewrite passed an empty token to rewrite")
		}
		if rest, ok := strings.CutPrefix(token, "old:"); ok {
			return "new:" + rest, nil
		}
		return token, nil
	}
}

// checkUntouched fails unless the fixture's jobs and runs read back as
// they were in every field (updated_at included), job a's token being jobA.
func (f *secretFixture) checkUntouched(t *testing.T, s store.Store, jobA string) {
	t.Helper()
	wantA := *f.jobA
	wantA.SecretCfg = jobA
	checkJob(t, &wantA, getJob(t, s, "a"))
	checkJob(t, f.jobB, getJob(t, s, "b"))
	checkJob(t, f.jobC, getJob(t, s, "c"))
	for _, r := range append(append([]*connecthub.Run{}, f.runsA...), f.runB, f.runC) {
		checkRun(t, r, getRun(t, s, r.ID))
	}
}

func exerciseSecrets(t *testing.T, newStore NewStoreFunc) {
	errStop := errors.New("stop here")
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Empty": func(t *testing.T, s store.Store) {
			newJob(t, s, "plain", func(j *connecthub.Job) { j.SecretCfg, j.HasSecret = "", false })
			checkSecrets(t, nil, walkSecrets(t, s))
			jobs, runs, err := s.SecretsRewrite(t.Context(), func(string) (string, error) {
				t.Error("rewrite called on a store without secrets")
				return "x", nil
			})
			if err != nil || jobs != 0 || runs != 0 {
				t.Errorf("SecretsRewrite = %d, %d, %v; want 0, 0, nil", jobs, runs, err)
			}
		},
		"WalkReportsEveryToken": func(t *testing.T, s store.Store) {
			f := newSecretFixture(t, s)
			checkSecrets(t, f.want(false), walkSecrets(t, s))
		},
		"WalkStopsOnError": func(t *testing.T, s store.Store) {
			newSecretFixture(t, s)
			calls := 0
			err := s.SecretTokens(t.Context(), func(kind, id, token string) error {
				calls++
				if calls == 2 {
					return fmt.Errorf("walk: %w", errStop)
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Errorf("SecretTokens = %v, want the function's error", err)
			}
			if calls != 2 {
				t.Errorf("fn was called %d times after it failed on the 2nd, want 2", calls)
			}
		},
		"Rewrite": func(t *testing.T, s store.Store) {
			f := newSecretFixture(t, s)
			jobs, runs, err := s.SecretsRewrite(t.Context(), renew(t))
			if err != nil || jobs != 1 || runs != 2 {
				t.Fatalf("SecretsRewrite = %d, %d, %v; want 1 job and 2 runs", jobs, runs, err)
			}
			checkSecrets(t, f.want(true), walkSecrets(t, s))
			f.checkUntouched(t, s, "new:a2")
			for _, r := range f.runsA {
				if got, err := s.RunSecret(t.Context(), r.ID); err != nil || got != "new:a" {
					t.Errorf("RunSecret(%s) = %q, %v; want the rewritten token", r.ID, got, err)
				}
			}
			// Everything is current now: a second pass writes nothing.
			jobs, runs, err = s.SecretsRewrite(t.Context(), renew(t))
			if err != nil || jobs != 0 || runs != 0 {
				t.Errorf("second SecretsRewrite = %d, %d, %v; want 0, 0, nil", jobs, runs, err)
			}
		},
		"RewriteErrorWritesNothing": func(t *testing.T, s store.Store) {
			f := newSecretFixture(t, s)
			bad := f.runsA[1].ID
			calls := 0
			_, _, err := s.SecretsRewrite(t.Context(), func(token string) (string, error) {
				calls++
				if calls == 4 { // jobs a and c, then run a[0], then this one
					return "", fmt.Errorf("undecryptable: %w", errStop)
				}
				return renew(t)(token)
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("SecretsRewrite = %v, want rewrite's error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "run "+bad) || strings.Contains(msg, "old:a") {
				t.Errorf("error %q should name run %s and never show the token", msg, bad)
			}
			checkSecrets(t, f.want(false), walkSecrets(t, s))
			f.checkUntouched(t, s, "old:a2")
		},
		"RewriteToEmptyRefused": func(t *testing.T, s store.Store) {
			f := newSecretFixture(t, s)
			_, _, err := s.SecretsRewrite(t.Context(), func(token string) (string, error) {
				if token == "new:c" {
					return "", nil
				}
				return renew(t)(token)
			})
			requireKind(t, err, connecthub.KindInvalid)
			if !strings.Contains(err.Error(), "job c") {
				t.Errorf("error %q should name job c", err)
			}
			checkSecrets(t, f.want(false), walkSecrets(t, s))
		},
		"ManyRows": func(t *testing.T, s store.Store) {
			// More rows than drivers are likely to handle in one page.
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.SecretCfg = "new:j" })
			batch := make([]*connecthub.Run, 1234)
			for i := range batch {
				batch[i] = manualRun(j, t0.Add(time.Duration(i)*time.Millisecond))
				batch[i].Snapshot.SecretCfg = fmt.Sprintf("old:%d", i)
			}
			insertRuns(t, s, batch...)
			want := []storedSecret{{store.SecretKindJob, "j", "new:j"}}
			for i, r := range batch {
				want = append(want, storedSecret{store.SecretKindRun, r.ID, fmt.Sprintf("new:%d", i)})
			}
			want = append(want, storedSecret{store.SecretKindRevision, store.RevisionKey("j", 1), "new:j"})
			jobs, runs, err := s.SecretsRewrite(t.Context(), renew(t))
			if err != nil || jobs != 0 || runs != len(batch) {
				t.Fatalf("SecretsRewrite = %d, %d, %v; want 0 jobs and %d runs", jobs, runs, err, len(batch))
			}
			checkSecrets(t, want, walkSecrets(t, s))
		},
		"BadArguments": func(t *testing.T, s store.Store) {
			requireKind(t, s.SecretTokens(t.Context(), nil), connecthub.KindInvalid)
			_, _, err := s.SecretsRewrite(t.Context(), nil)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
