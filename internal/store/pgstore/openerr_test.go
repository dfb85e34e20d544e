package pgstore_test

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestOpenErrorNamesCause: a database that cannot be reached is reported
// with the cause underneath, and never with the URL's password.
func TestOpenErrorNamesCause(t *testing.T) {
	t.Parallel()
	testpg.Require(t)
	server, err := url.Parse(strings.TrimSpace(os.Getenv(testpg.EnvURL)))
	if err != nil {
		t.Fatal(err)
	}
	const password = "pa55-never-shown-9c41"
	tests := []struct {
		name string
		edit func(u *url.URL)
		want string
	}{
		{"missing database", func(u *url.URL) { u.Path = "/connecthub_no_such_db" },
			`cannot connect to PostgreSQL: database "connecthub_no_such_db" does not exist`},
		{"wrong port", func(u *url.URL) { u.Host = "127.0.0.1:1" },
			"cannot connect to PostgreSQL: dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := *server
			u.User = url.UserPassword(server.User.Username(), password)
			tt.edit(&u)
			st, err := pgstore.Open(t.Context(), u.String(), pgstore.Options{})
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("Open = %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %q", err)
			}
			if connecthub.ErrorKind(err) != connecthub.KindUnavailable {
				t.Errorf("Open error kind = %v, want unavailable", connecthub.ErrorKind(err))
			}
		})
	}
}
