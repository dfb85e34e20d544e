package storetest

import (
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// testSession returns a live session created at created that lasts ttl.
func testSession(id string, created time.Time, ttl time.Duration) *connecthub.Session {
	return &connecthub.Session{
		ID: id, User: "admin", Hash: "sha256-of-" + id,
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(ttl),
		Client: "192.0.2.7", UserAgent: "Mozilla/5.0 (storetest)",
	}
}

func createSession(t *testing.T, s store.Store, se *connecthub.Session) *connecthub.Session {
	t.Helper()
	if err := s.SessionCreate(t.Context(), se); err != nil {
		t.Fatalf("SessionCreate(%s): %v", se.ID, err)
	}
	return se
}

func sessionByHash(t *testing.T, s store.Store, hash string) *connecthub.Session {
	t.Helper()
	se, err := s.SessionByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("SessionByHash(%s): %v", hash, err)
	}
	return se
}

func sessionIDs(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	list, err := s.SessionList(t.Context(), now)
	if err != nil {
		t.Fatalf("SessionList: %v", err)
	}
	out := make([]string, len(list))
	for i, se := range list {
		out[i] = se.ID
	}
	return out
}

// checkSession compares a session as created with the session read back:
// the times as the store keeps them (UTC, microseconds), the rest exactly.
func checkSession(t *testing.T, want, got *connecthub.Session) {
	t.Helper()
	for _, c := range []struct {
		name      string
		want, got time.Time
	}{
		{"created_at", want.CreatedAt, got.CreatedAt},
		{"last_seen_at", want.LastSeenAt, got.LastSeenAt},
		{"expires_at", want.ExpiresAt, got.ExpiresAt},
	} {
		checkTime(t, c.name, c.want, c.got)
	}
	checkTimePtr(t, "revoked_at", want.RevokedAt, got.RevokedAt)
	w, g := *want, *got
	for _, se := range []*connecthub.Session{&w, &g} {
		se.CreatedAt, se.LastSeenAt, se.ExpiresAt, se.RevokedAt = time.Time{}, time.Time{}, time.Time{}, nil
	}
	if w != g {
		t.Errorf("session:\n got %+v\nwant %+v", got, want)
	}
}

func exerciseSessions(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"CreateAndFindByHash": func(t *testing.T, s store.Store) {
			a := createSession(t, s, testSession("ses_a", t0.In(shanghai), time.Hour))
			b := testSession("ses_b", t0, 12*time.Hour)
			b.Client, b.UserAgent = "", ""
			createSession(t, s, b)
			checkSession(t, a, sessionByHash(t, s, a.Hash))
			checkSession(t, b, sessionByHash(t, s, b.Hash))
			_, err := s.SessionByHash(t.Context(), "sha256-of-nothing")
			requireKind(t, err, connecthub.KindNotFound)
		},
		"CreateConflicts": func(t *testing.T, s store.Store) {
			createSession(t, s, testSession("ses_1", t0, time.Hour))
			sameID := testSession("ses_1", t0, time.Hour)
			sameID.Hash = "h-other"
			sameHash := testSession("ses_2", t0, time.Hour)
			sameHash.Hash = "sha256-of-ses_1"
			for name, se := range map[string]*connecthub.Session{"same id": sameID, "same hash": sameHash} {
				if err := s.SessionCreate(t.Context(), se); !connecthub.IsKind(err, connecthub.KindConflict) {
					t.Errorf("%s: SessionCreate = %v, want a conflict", name, err)
				}
			}
		},
		"CreateInvalid": func(t *testing.T, s store.Store) {
			requireKind(t, s.SessionCreate(t.Context(), nil), connecthub.KindInvalid)
			for name, mutate := range map[string]func(*connecthub.Session){
				"no id":               func(se *connecthub.Session) { se.ID = "" },
				"no user":             func(se *connecthub.Session) { se.User = "" },
				"no hash":             func(se *connecthub.Session) { se.Hash = "" },
				"no created":          func(se *connecthub.Session) { se.CreatedAt = time.Time{} },
				"no last seen":        func(se *connecthub.Session) { se.LastSeenAt = time.Time{} },
				"no expiry":           func(se *connecthub.Session) { se.ExpiresAt = time.Time{} },
				"expires at creation": func(se *connecthub.Session) { se.ExpiresAt = se.CreatedAt },
			} {
				se := testSession("ses_x", t0, time.Hour)
				mutate(se)
				if err := s.SessionCreate(t.Context(), se); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: SessionCreate = %v, want an invalid error", name, err)
				}
			}
		},
		"ListLiveNewestFirst": func(t *testing.T, s store.Store) {
			checkStrings(t, "empty", []string{}, sessionIDs(t, s, t0))
			createSession(t, s, testSession("ses_b", t0, time.Hour))
			createSession(t, s, testSession("ses_old", t0.Add(-time.Hour), 70*time.Minute))
			createSession(t, s, testSession("ses_new", t0.Add(time.Minute), time.Hour))
			createSession(t, s, testSession("ses_a", t0, time.Hour)) // same time as ses_b: id descending
			createSession(t, s, testSession("ses_short", t0, 10*time.Minute))
			createSession(t, s, testSession("ses_gone", t0, time.Hour))
			noError(t, s.SessionRevoke(t.Context(), "ses_gone", t0))
			checkStrings(t, "live", []string{"ses_new", "ses_short", "ses_b", "ses_a", "ses_old"}, sessionIDs(t, s, t0.Add(time.Minute)))
			// Expiry is exclusive: a session is over at its ExpiresAt (ses_short
			// and ses_old end at t0+10m).
			checkStrings(t, "later", []string{"ses_new", "ses_b", "ses_a"}, sessionIDs(t, s, t0.Add(10*time.Minute)))
			_, err := s.SessionList(t.Context(), time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
		},
		"RevokeKeepsFirstTimeAndRow": func(t *testing.T, s store.Store) {
			se := createSession(t, s, testSession("ses_r", t0, time.Hour))
			noError(t, s.SessionRevoke(t.Context(), "ses_r", t0.Add(time.Second)))
			noError(t, s.SessionRevoke(t.Context(), "ses_r", t0.Add(time.Minute)))
			revoked := t0.Add(time.Second)
			se.RevokedAt = &revoked
			checkSession(t, se, sessionByHash(t, s, se.Hash))
			requireKind(t, s.SessionRevoke(t.Context(), "nobody", t0), connecthub.KindNotFound)
			requireKind(t, s.SessionRevoke(t.Context(), "ses_r", time.Time{}), connecthub.KindInvalid)
		},
		"CreateDeletesExpired": func(t *testing.T, s store.Store) {
			old := createSession(t, s, testSession("ses_old", t0, time.Hour))
			edge := createSession(t, s, testSession("ses_edge", t0, 2*time.Hour))
			live := createSession(t, s, testSession("ses_live", t0, 2*time.Hour+time.Second))
			createSession(t, s, testSession("ses_next", t0.Add(2*time.Hour), time.Hour))
			for _, gone := range []string{old.Hash, edge.Hash} {
				_, err := s.SessionByHash(t.Context(), gone)
				requireKind(t, err, connecthub.KindNotFound)
			}
			checkSession(t, live, sessionByHash(t, s, live.Hash))
		},
		"TouchAtMostOnceAMinute": func(t *testing.T, s store.Store) {
			se := createSession(t, s, testSession("ses_t", t0, time.Hour))
			for _, step := range []struct {
				at, want time.Time
			}{
				{t0.Add(59 * time.Second), t0},                                  // too soon: nothing written
				{t0.Add(time.Minute), t0.Add(time.Minute)},                      // a minute on: written
				{t0.Add(90 * time.Second), t0.Add(time.Minute)},                 // too soon again
				{t0.Add(-time.Hour), t0.Add(time.Minute)},                       // a clock behind: nothing
				{t0.Add(3 * time.Minute).In(shanghai), t0.Add(3 * time.Minute)}, // written, in UTC
			} {
				noError(t, s.SessionTouch(t.Context(), "ses_t", step.at))
				checkTime(t, "last_seen_at", step.want, sessionByHash(t, s, se.Hash).LastSeenAt)
			}
			noError(t, s.SessionTouch(t.Context(), "nobody", t0))
			requireKind(t, s.SessionTouch(t.Context(), "ses_t", time.Time{}), connecthub.KindInvalid)
		},
	})
}

// noError fails the test at once on an error.
func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
