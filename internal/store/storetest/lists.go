package storetest

import (
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseLists checks what the newest-first lists (NotificationList,
// AuditList, BatchList) share: an empty answer is an empty list, never
// nil, with no cursor; and a bad filter is refused before anything is
// read. It also checks NotificationInsert's rule (InsertNotifications).
func exerciseLists(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"EmptyIsEmpty": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			for _, tc := range []struct {
				name string
				list func() (n int, isNil bool, next string, err error)
			}{
				{"NotificationList", func() (int, bool, string, error) {
					l, next, err := s.NotificationList(ctx, connecthub.NotificationFilter{Channel: "nowhere"})
					return len(l), l == nil, next, err
				}},
				{"AuditList", func() (int, bool, string, error) {
					l, next, err := s.AuditList(ctx, connecthub.AuditFilter{Actor: "nobody"})
					return len(l), l == nil, next, err
				}},
				{"AuditListUnstorable", func() (int, bool, string, error) {
					l, next, err := s.AuditList(ctx, connecthub.AuditFilter{Actor: "no\x00body"})
					return len(l), l == nil, next, err
				}},
				{"BatchList", func() (int, bool, string, error) {
					l, next, err := s.BatchList(ctx, connecthub.BatchFilter{})
					return len(l), l == nil, next, err
				}},
			} {
				n, isNil, next, err := tc.list()
				if err != nil || n != 0 || isNil || next != "" {
					t.Errorf("%s of an empty store = %d items (nil %v), next %q, %v; want an empty list", tc.name, n, isNil, next, err)
				}
			}
		},
		"NotificationInsertAllOrNothing": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			good := func() *connecthub.Notification {
				return &connecthub.Notification{Channel: "ops", Event: connecthub.EventTest, NextAttemptAt: t0, CreatedAt: t0,
					Status: connecthub.DeliverySent, Attempts: 7}
			}
			for name, bad := range map[string]*connecthub.Notification{
				"no channel": {Event: connecthub.EventTest, NextAttemptAt: t0, CreatedAt: t0},
				"no time":    {Channel: "ops", Event: connecthub.EventTest, CreatedAt: t0},
				"nil":        nil,
			} {
				err := s.NotificationInsert(ctx, []*connecthub.Notification{good(), bad})
				if !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("NotificationInsert with %s = %v, want KindInvalid", name, err)
				}
			}
			if l, _, err := s.NotificationList(ctx, connecthub.NotificationFilter{}); err != nil || len(l) != 0 {
				t.Fatalf("after refused inserts: %d notifications, %v; want none", len(l), err)
			}
			// What the store decides: a new id each, pending, no attempts.
			ns := []*connecthub.Notification{good(), good()}
			if err := s.NotificationInsert(ctx, ns); err != nil {
				t.Fatal(err)
			}
			if ns[0].ID == "" || ns[0].ID == ns[1].ID {
				t.Fatalf("ids %q and %q, want two new ones", ns[0].ID, ns[1].ID)
			}
			for _, n := range ns {
				got, err := s.NotificationGet(ctx, n.ID)
				if err != nil || got.Status != connecthub.DeliveryPending || got.Attempts != 0 || n.Status != connecthub.DeliveryPending || n.Attempts != 0 {
					t.Errorf("inserted %+v, stored %+v, %v; want pending with no attempts", n, got, err)
				}
			}
		},
		"BadFilterRefused": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			_, _, err := s.NotificationList(ctx, connecthub.NotificationFilter{Limit: -1})
			requireKind(t, err, connecthub.KindInvalid)
			_, _, err = s.AuditList(ctx, connecthub.AuditFilter{Cursor: "not a cursor"})
			requireKind(t, err, connecthub.KindInvalid)
			_, _, err = s.AuditList(ctx, connecthub.AuditFilter{Cursor: "not a cursor", Actor: "no\x00body"})
			requireKind(t, err, connecthub.KindInvalid)
			_, _, err = s.BatchList(ctx, connecthub.BatchFilter{Cursor: "-3"})
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
