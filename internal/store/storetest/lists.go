package storetest

import (
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseLists checks what the newest-first lists (NotificationList,
// AuditList, BatchList) share: an empty answer is an empty list, never
// nil, with no cursor; and a bad filter is refused before anything is
// read.
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
