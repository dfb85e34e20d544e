package runlog

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestMasker(t *testing.T) {
	t.Parallel()
	jsonOf := func(s string) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[1 : len(b)-1])
	}
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secrets", nil, "password=hunter2", "password=hunter2"},
		{"empty secret ignored", []string{""}, "nothing to hide", "nothing to hide"},
		{"raw", []string{"hunter2"}, "login with hunter2 ok", "login with ****** ok"},
		{"every occurrence", []string{"tok"}, "tok,tok;tok", "******,******;******"},
		{"at both ends", []string{"x9"}, "x9 and x9", "****** and ******"},
		{"repeated overlapping occurrences", []string{"aa"}, "aaa", "******"},
		{"JSON escaped quote and backslash", []string{`pa"ss\word`}, `{"p":"` + jsonOf(`pa"ss\word`) + `"}`, `{"p":"******"}`},
		{"JSON escaped newline", []string{"line1\nline2"}, `"` + jsonOf("line1\nline2") + `"`, `"******"`},
		{"JSON HTML escapes", []string{"a<b>&c"}, `{"k":"a\u003cb\u003e\u0026c"}`, `{"k":"******"}`},
		{"JSON without HTML escapes", []string{`a<"b">`}, `{"k":"a<\"b\">"}`, `{"k":"******"}`},
		{"JSON ASCII-only escapes", []string{"pässwörd"}, `{"k":"p\u00e4ssw\u00f6rd"}`, `{"k":"******"}`},
		{"JSON ASCII-only surrogate pair", []string{"key🔑"}, `"key\ud83d\udd11"`, `"******"`},
		{"URL query escaped", []string{"a b&c=d/é"}, "https://x/?p=" + url.QueryEscape("a b&c=d/é") + "&q=1", "https://x/?p=******&q=1"},
		{"URL path escaped", []string{"a b/c"}, "https://x/" + url.PathEscape("a b/c"), "https://x/******"},
		{"raw and escaped in one line", []string{"p w"}, "p w p+w p%20w", "****** ****** ******"},
		{"secret containing another is masked whole", []string{"abc", "xxabcxx"}, "1 xxabcxx 2 abc", "1 ****** 2 ******"},
		{"order of secrets does not matter", []string{"xxabcxx", "abc"}, "1 xxabcxx 2 abc", "1 ****** 2 ******"},
		{"overlapping secrets leave nothing", []string{"abcd", "cdef"}, "[abcdef]", "[******]"},
		{"adjacent secrets", []string{"ab", "cd"}, "abcd", "************"},
		{"surrounding whitespace of a dirty value", []string{"  t0ken\n"}, "token=t0ken", "token=******"},
		{"lines of a multi-line secret", []string{"-----BEGIN KEY-----\nMIIEvQIBADANBg\nAb\n-----END KEY-----\n"}, "MIIEvQIBADANBg Ab", "****** Ab"},
		{"multi-byte text around a secret", []string{"秘密"}, "这是秘密吗", "这是******吗"},
		{"no match", []string{"hunter2"}, "hunter3", "hunter3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := NewMasker(tt.secrets)
			if got := m.Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// The byte path used by Capture must agree with Mask.
			if got := string(m.appendMasked([]byte("prefix:"), []byte(tt.in))); got != "prefix:"+tt.want {
				t.Errorf("appendMasked(%q) = %q, want %q", tt.in, got, "prefix:"+tt.want)
			}
		})
	}
}

// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestMaskerNilAndEmptyDoNotAllocate(t *testing.T) {
	line := "2026-11-24T06:43:21.123Z INFO an ordinary line key=value"
	for name, m := range map[string]*Masker{"nil": nil, "empty": NewMasker(nil), "no match": NewMasker([]string{"hunter2"})} {
		if got := m.Mask(line); got != line {
			t.Errorf("%s: Mask changed the line to %q", name, got)
		}
		if allocs := testing.AllocsPerRun(100, func() { _ = m.Mask(line) }); allocs != 0 {
			t.Errorf("%s: Mask allocates %v times per call, want 0", name, allocs)
		}
	}
}

func TestMaskerExtendAcross(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"SECRET", "RETURN"})
	b := []byte("....SECRETURN....")
	tests := []struct {
		cut, want int
	}{
		{0, 0},
		{4, 4},   // before the secret
		{7, 13},  // inside SECRET, which runs into RETURN: both stay whole
		{10, 13}, // inside RETURN
		{13, 13}, // right after
		{16, 16},
	}
	for _, tt := range tests {
		if got := m.extendAcross(b, tt.cut); got != tt.want {
			t.Errorf("extendAcross(%q, %d) = %d, want %d", b, tt.cut, got, tt.want)
		}
	}
	if got := NewMasker(nil).extendAcross(b, 7); got != 7 {
		t.Errorf("without secrets extendAcross moved the cut to %d", got)
	}
}

func TestMaskerPatternsLongestFirst(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"b", "ccc", "aa", "ccc"})
	var got []string
	for _, p := range m.strs {
		got = append(got, p)
	}
	if want := "ccc aa b"; strings.Join(got, " ") != want {
		t.Errorf("patterns = %q, want %q (deduplicated, longest first)", got, want)
	}
	if m.maxLen != 3 {
		t.Errorf("maxLen = %d, want 3", m.maxLen)
	}
}
