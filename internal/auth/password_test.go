package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash = %q", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
	for _, c := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"right", h, "correct horse battery", true},
		{"wrong", h, "correct horse batterx", false},
		{"empty hash", "", "correct horse battery", false},
		{"bcrypt-looking", "$2a$10$abcdefghijklmnopqrstuv", "x", false},
		{"huge memory", "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x", false},
		{"truncated", h[:len(h)-10], "correct horse battery", false},
		{"too long a password", h, strings.Repeat("a", MaxPasswordLen+1), false},
	} {
		if got := VerifyPassword(c.hash, c.pw); got != c.want {
			t.Errorf("%s: VerifyPassword = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pw   string
		code string
	}{
		{"short", "password_too_short"},
		{"十一个字符不够长的密码", "password_too_short"}, // 11 characters, 33 bytes
		{"十二个字符的密码足够长了", ""},
		{strings.Repeat("x", MaxPasswordLen+1), "password_too_long"},
		{"a\xffbcdefghijklm", "invalid_password"},
		{"twelve chars", ""},
	} {
		err := CheckPassword(c.pw)
		var ce *connecthub.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("CheckPassword(%.20q) = %v, want nil", c.pw, err)
		case c.code != "" && (!errors.As(err, &ce) || ce.Code != c.code):
			t.Errorf("CheckPassword(%.20q) = %v, want code %s", c.pw, err, c.code)
		}
	}
}
