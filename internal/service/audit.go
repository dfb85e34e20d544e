package service

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// newAudit starts the audit entry of action on target by the request's
// principal (the server itself when there is none).
func (s *Service) newAudit(ctx context.Context, action, target string) *connecthub.AuditEntry {
	e := &connecthub.AuditEntry{At: s.now(), Action: action, Target: target, Actor: connecthub.ActorSystem, ActorKind: connecthub.ActorSystem}
	if p := connecthub.PrincipalFrom(ctx); p != nil {
		e.Actor, e.ActorKind, e.BreakGlass, e.Client = clip(p.Name(), 160), p.Kind, p.BreakGlass, clip(p.Client, 64)
		if p.TokenName != "" && p.User != "" {
			e.Detail = "via token " + p.TokenName
		}
	}
	return e
}

// clip bounds s to n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Audited returns ctx carrying the audit entry of action on target by the
// request's principal, for a change a transport makes through another
// component (API tokens, sessions): the store writes the entry in the
// same transaction as the change made with the returned context. The
// context also fingerprints the secrets of the job revisions its writes
// record.
func (s *Service) Audited(ctx context.Context, action, target string) context.Context {
	return store.WithAudit(s.withFingerprinter(ctx), s.newAudit(ctx, action, target))
}

// audited is Audited that also returns the entry, for a caller that fills
// in the changes inside the transaction.
func (s *Service) audited(ctx context.Context, action, target string) (context.Context, *connecthub.AuditEntry) {
	e := s.newAudit(ctx, action, target)
	return store.WithAudit(s.withFingerprinter(ctx), e), e
}

// SignInAudited returns ctx carrying the login.ok entry of user signing
// in from client, written with the session the login creates.
func (s *Service) SignInAudited(ctx context.Context, user string, breakGlass bool, client, method string) context.Context {
	e := &connecthub.AuditEntry{At: s.now(), Action: "login.ok", Target: "user:" + clip(user, 128), Actor: clip(user, 160),
		ActorKind: connecthub.PrincipalSession, BreakGlass: breakGlass, Client: clip(client, 64), Detail: method}
	return store.WithAudit(ctx, e)
}

// AuditSignInFailed records a failed sign-in: the name that was tried
// (never the password), where from, and why in a word.
func (s *Service) AuditSignInFailed(ctx context.Context, user, client, reason string) error {
	return s.st.AuditAppend(ctx, &connecthub.AuditEntry{At: s.now(), Action: "login.failed", Target: "user:" + clip(strings.ReplaceAll(user, "\x00", ""), 128),
		Actor: connecthub.ActorAnonymous, ActorKind: connecthub.ActorAnonymous, Client: clip(client, 64), Detail: clip(reason, 200)})
}

// AuditList returns a page of audit entries, newest first.
func (s *Service) AuditList(ctx context.Context, f connecthub.AuditFilter) ([]*connecthub.AuditEntry, string, error) {
	return s.st.AuditList(ctx, f)
}

// AuditPurge deletes the audit entries older than retention, a batch at a
// time, and records that it did (as the system) when it deleted any.
func (s *Service) AuditPurge(ctx context.Context, retention time.Duration) (int64, error) {
	before := s.now().Add(-retention)
	var total int64
	for {
		n, err := s.st.AuditPurge(ctx, before, store.MaxAuditPurge)
		total += n
		if err != nil || n < store.MaxAuditPurge {
			if total > 0 && err == nil {
				e := s.newAudit(context.WithoutCancel(ctx), "audit.purge", "")
				e.Detail = "deleted " + strconv.FormatInt(total, 10) + " entries older than " + before.Format(time.RFC3339)
				err = s.st.AuditAppend(ctx, e)
			}
			return total, err
		}
	}
}
