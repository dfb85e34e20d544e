package secret

import (
	"errors"
	"testing"
)

func TestVerifyCheck(t *testing.T) {
	t.Parallel()
	const (
		keyA = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
		keyB = "ISmMIcGnUZuWMrMaOvBZXQiN4eoIxyrjmaKL-0zOrWk="
	)
	parse := func(text string) *Keyring {
		t.Helper()
		k, err := Parse(text, "fernet.key")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b, ba := parse(keyA), parse(keyB), parse(keyB+"\n"+keyA)
	checkA, err := a.NewCheck()
	if err != nil {
		t.Fatal(err)
	}
	notCheck, err := a.Encrypt([]byte("some secret"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		keys  *Keyring
		check string
		also  error // besides ErrCheckFailed; nil when the check passes
		ok    bool
	}{
		{"same key", a, checkA, nil, true},
		{"old key kept after the new one", ba, checkA, nil, true},
		{"another key", b, checkA, ErrWrongKey, false},
		{"truncated", a, checkA[:40], ErrTruncated, false},
		{"not a token", a, "not a token!", ErrMalformed, false},
		{"a token of another text", a, notCheck, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.keys.VerifyCheck(tt.check)
			if tt.ok {
				if err != nil {
					t.Fatalf("VerifyCheck = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrCheckFailed) {
				t.Fatalf("VerifyCheck = %v, want ErrCheckFailed", err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("VerifyCheck = %v, want it to match %v too", err, tt.also)
			}
		})
	}
}
