package runlog

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/internal/runlog/masktest"
)

// feedSplit masks pieces as a server does requests: each piece after the
// part the previous one held, the last held part masked on its own.
func feedSplit(m *Masker, pieces ...string) string {
	var out strings.Builder
	held := ""
	for _, p := range pieces {
		masked, h := m.MaskSplit(held + p)
		out.WriteString(masked)
		held = h
	}
	out.WriteString(m.Mask(held))
	return out.String()
}

// TestMaskSplitEveryPosition splits texts holding a secret in each of its
// masked forms at every byte and checks that the pieces, masked as they
// come, store exactly what masking the whole text stores.
func TestMaskSplitEveryPosition(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-v@lue/ü"
	m := NewMasker([]string{secret, "other-secret-0042"})
	forms := map[string]string{
		"raw":         secret,
		"base64":      base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url":   base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"hex":         hex.EncodeToString([]byte(secret)),
		"url":         url.QueryEscape(secret),
		"url lower":   strings.ToLower(url.QueryEscape(secret)),
		"json ascii":  `s3cr3t-v@lue/\u00fc`,
		"two lines":   "first " + secret + " line\nsecond " + secret,
		"ends a line": "x " + secret + "\n",
	}
	for name, form := range forms {
		text := "token=" + form + " and more"
		want := m.Mask(text)
		if strings.Contains(want, form) || !strings.Contains(want, Redacted) {
			t.Fatalf("%s: the whole text is not masked: %q", name, want)
		}
		for i := 0; i <= len(text); i++ {
			if got := feedSplit(m, text[:i], text[i:]); got != want {
				t.Errorf("%s split at %d: stored %q, want %q", name, i, got, want)
			}
			for j := i; j <= len(text); j += 7 {
				if got := feedSplit(m, text[:i], text[i:j], text[j:]); got != want {
					t.Errorf("%s split at %d and %d: stored %q, want %q", name, i, j, got, want)
				}
			}
		}
	}
}

// TestMaskSplitEveryForm cuts the text of each form the masker promises,
// as the worker protocol's tests print it, at every byte into two and three
// pieces: the pieces store what the whole text stores.
func TestMaskSplitEveryForm(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{masktest.Secret})
	for _, form := range masktest.Forms {
		text := masktest.Text(form, masktest.Secret)
		want := m.Mask(text)
		for i := 0; i <= len(text); i++ {
			if got := feedSplit(m, text[:i], text[i:]); got != want {
				t.Errorf("%s cut at %d: stored %q, want %q", form.Name, i, got, want)
			}
			for j := i; j <= len(text); j += 5 {
				if got := feedSplit(m, text[:i], text[i:j], text[j:]); got != want {
					t.Errorf("%s cut at %d and %d: stored %q, want %q", form.Name, i, j, got, want)
				}
			}
		}
	}
}

// TestMaskSplitHoldsLittle checks that the held part is bounded by the
// longest pattern and empty after a whole line, so a live log shows every
// complete line at once.
func TestMaskSplitHoldsLittle(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"short-secret"})
	tests := []struct {
		name, text string
		maxHeld    int
	}{
		{"a whole line", "done\n", 0},
		{"a long unfinished line", strings.Repeat("x", 10000), m.maxLen - 1},
		{"an unfinished line after whole ones", "line one\nab", 2},
	}
	for _, tc := range tests {
		masked, held := m.MaskSplit(tc.text)
		if len(held) > tc.maxHeld || masked+held != tc.text {
			t.Errorf("%s: held %d bytes (max %d), masked+held = %q", tc.name, len(held), tc.maxHeld, masked+held)
		}
	}
	if masked, held := (*Masker)(nil).MaskSplit("abc"); masked != "abc" || held != "" {
		t.Errorf("a nil Masker held %q", held)
	}
}
