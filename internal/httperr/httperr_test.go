package httperr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httperr"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind connecthub.Kind
		want int
	}{
		{connecthub.KindInvalid, http.StatusBadRequest},
		{connecthub.KindUnauthorized, http.StatusUnauthorized},
		{connecthub.KindForbidden, http.StatusForbidden},
		{connecthub.KindNotFound, http.StatusNotFound},
		{connecthub.KindConflict, http.StatusConflict},
		{connecthub.KindTooLarge, http.StatusRequestEntityTooLarge},
		{connecthub.KindUnprocessable, http.StatusUnprocessableEntity},
		{connecthub.KindUnavailable, http.StatusServiceUnavailable},
		{connecthub.KindInternal, http.StatusInternalServerError},
		{connecthub.Kind("made_up"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := httperr.Status(tt.kind); got != tt.want {
			t.Errorf("Status(%q) = %d, want %d", tt.kind, got, tt.want)
		}
	}
}

func TestOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want httperr.Public
	}{
		{
			name: "field error",
			err:  connecthub.FieldError("cron", "invalid_cron", "bad %s", "spec"),
			want: httperr.Public{Status: 400, Code: "invalid_cron", Message: "bad spec", Field: "cron"},
		},
		{
			name: "wrapped",
			err:  fmt.Errorf("context: %w", connecthub.Errorf(connecthub.KindNotFound, "job %q not found", "a")),
			want: httperr.Public{Status: 404, Code: "not_found", Message: `job "a" not found`},
		},
		{
			name: "code defaults to the kind",
			err:  &connecthub.Error{Kind: connecthub.KindConflict, Message: "busy"},
			want: httperr.Public{Status: 409, Code: "conflict", Message: "busy"},
		},
		{
			name: "unavailable is shown",
			err:  connecthub.Errorf(connecthub.KindUnavailable, "draining"),
			want: httperr.Public{Status: 503, Code: "unavailable", Message: "draining"},
		},
		{
			name: "plain error is internal and hidden",
			err:  errors.New("pq: relation runs does not exist"),
			want: httperr.Public{Status: 500, Code: "internal", Message: "internal error", Internal: true},
		},
		{
			name: "internal kind keeps its code but hides its message",
			err:  &connecthub.Error{Kind: connecthub.KindInternal, Code: "disk", Message: "/var/lib/x: full"},
			want: httperr.Public{Status: 500, Code: "disk", Message: "internal error", Internal: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := httperr.Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
}
