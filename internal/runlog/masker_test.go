package runlog

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/internal/runlog/masktest"
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
		{"every occurrence", []string{"tok3n"}, "tok3n,tok3n;tok3n", "******,******;******"},
		{"at both ends", []string{"x9y8"}, "x9y8 and x9y8", "****** and ******"},
		{"repeated overlapping occurrences", []string{"aaaa"}, "aaaaa", "******"},
		{"JSON escaped quote and backslash", []string{`pa"ss\word`}, `{"p":"` + jsonOf(`pa"ss\word`) + `"}`, `{"p":"******"}`},
		{"JSON escaped newline", []string{"line1\nline2"}, `"` + jsonOf("line1\nline2") + `"`, `"******"`},
		{"JSON HTML escapes", []string{"a<b>&c"}, `{"k":"a\u003cb\u003e\u0026c"}`, `{"k":"******"}`},
		{"JSON without HTML escapes", []string{`a<"b">`}, `{"k":"a<\"b\">"}`, `{"k":"******"}`},
		{"JSON ASCII-only escapes", []string{"pässwörd"}, `{"k":"p\u00e4ssw\u00f6rd"}`, `{"k":"******"}`},
		{"JSON ASCII-only surrogate pair", []string{"key🔑"}, `"key\ud83d\udd11"`, `"******"`},
		{"URL query escaped", []string{"a b&c=d/é"}, "https://x/?p=" + url.QueryEscape("a b&c=d/é") + "&q=1", "https://x/?p=******&q=1"},
		{"URL path escaped", []string{"a b/c"}, "https://x/" + url.PathEscape("a b/c"), "https://x/******"},
		{"raw and escaped in one line", []string{"pa w"}, "pa w pa+w pa%20w", "****** ****** ******"},
		{"secret containing another is masked whole", []string{"abcd", "xxabcdxx"}, "1 xxabcdxx 2 abcd", "1 ****** 2 ******"},
		{"order of secrets does not matter", []string{"xxabcdxx", "abcd"}, "1 xxabcdxx 2 abcd", "1 ****** 2 ******"},
		{"overlapping secrets leave nothing", []string{"abcd", "cdef"}, "[abcdef]", "[******]"},
		{"adjacent secrets", []string{"abab", "cdcd"}, "ababcdcd", "************"},
		{"surrounding whitespace of a dirty value", []string{"  t0ken\n"}, "token=t0ken", "token=******"},
		{"lines of a multi-line secret", []string{"-----BEGIN KEY-----\nMIIEvQIBADANBg\nAb\n-----END KEY-----\n"}, "MIIEvQIBADANBg Ab", "****** Ab"},
		{"multi-byte text around a secret", []string{"秘密口令"}, "这是秘密口令吗", "这是******吗"},
		{"four characters are masked", []string{"abcd"}, "abcd abc", "****** abc"},
		{"three characters are not masked", []string{"abc"}, "abc abcd", "abc abcd"},
		{"three multi-byte characters are not masked", []string{"秘密令"}, "秘密令", "秘密令"},
		{"URL lower-case hex", []string{"a/b c"}, "x=a%2fb+c", "x=******"},
		{"hex", []string{"hunter2"}, "68756e74657232 68756E74657232", "****** ******"},
		{"base64", []string{"hunter2"}, "aHVudGVyMg== aHVudGVyMg", "****** ******"},
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

func TestMaskerLongestMatchWins(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"abcd", "abcdefgh", "abcdefgh"})
	if got, want := m.Mask("abcdefgh!"), "******!"; got != want {
		t.Errorf("Mask = %q, want %q (the longer secret at the same place wins)", got, want)
	}
	// The longest pattern is the hex form of the longest secret.
	if want := 2 * len("abcdefgh"); m.maxLen != want {
		t.Errorf("maxLen = %d, want %d", m.maxLen, want)
	}
}

// TestMaskerForms shows that every promised form of a secret is masked,
// alone and inside a JSON document, for the Masker of a run's secrets and
// for one that adds them to the server's own.
func TestMaskerForms(t *testing.T) {
	t.Parallel()
	server := NewMasker([]string{"server-admin-token-0123456789"})
	maskers := map[string]*Masker{
		"run secrets":            NewMasker([]string{"other secret", masktest.Secret}),
		"server and run secrets": server.With([]string{masktest.Secret}),
	}
	for name, m := range maskers {
		for _, form := range masktest.Forms {
			t.Run(name+"/"+form.Name, func(t *testing.T) {
				t.Parallel()
				text := masktest.Text(form, masktest.Secret)
				if problem := masktest.Check(form, masktest.Secret, m.Mask(text)); problem != "" {
					t.Errorf("Mask: %s", problem)
				}
				if problem := masktest.Check(form, masktest.Secret, string(m.appendMasked(nil, []byte(text)))); problem != "" {
					t.Errorf("appendMasked: %s", problem)
				}
			})
		}
	}
	if got := maskers["server and run secrets"].Mask("token server-admin-token-0123456789"); got != "token ******" {
		t.Errorf("the server's secret: Mask = %q", got)
	}
	if got := server.Mask(masktest.Secret); got != masktest.Secret {
		t.Errorf("With changed the Masker it was called on: %q", got)
	}
}

func TestMaskJSON(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"hunter22", "12345678", `pa"ss<word>`})
	tests := []struct {
		name, in, want string
	}{
		{"nothing secret keeps the bytes", `{ "b": 1, "a": "x" }`, `{ "b": 1, "a": "x" }`},
		{"nested strings", `{"a":{"b":["ok","hunter22"]},"c":"x"}`, `{"a":{"b":["ok","******"]},"c":"x"}`},
		{"escaped in the document", `{"body":"{\"p\":\"pa\\\"ss\u003cword\u003e\"}"}`, `{"body":"{\"p\":\"******\"}"}`},
		{"escaped by another encoder", `{"p":"pa\"ss\u003Cword\u003E"}`, `{"p":"******"}`},
		{"keys", `{"hunter22":1,"******":2}`, `{"******":2,"****** (2)":1}`},
		{"number", `{"pin":12345678}`, `{"pin":"******"}`},
		{"top-level string", `"x hunter22"`, `"x ******"`},
		{"not JSON is masked as text", `hunter22 {`, `****** {`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(m.MaskJSON(json.RawMessage(tt.in))); got != tt.want {
				t.Errorf("MaskJSON(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	if got := (*Masker)(nil).MaskJSON(json.RawMessage(`"hunter22"`)); string(got) != `"hunter22"` {
		t.Errorf("nil Masker changed the document: %s", got)
	}
}

// TestCaptureMasksEveryForm shows each form masked on each way text enters
// a run log: a Logger line, a Writer line written one byte at a time (a
// secret split across writes) and the run's message.
func TestCaptureMasksEveryForm(t *testing.T) {
	t.Parallel()
	for _, form := range masktest.Forms {
		t.Run(form.Name, func(t *testing.T) {
			t.Parallel()
			c, sink := newCapture(t, Config{Secrets: []string{masktest.Secret}})
			text := masktest.Text(form, masktest.Secret)
			c.Logger().Info(text)
			w := c.Writer(slog.LevelInfo)
			for i := range len(text) {
				io.WriteString(w, text[i:i+1])
			}
			io.WriteString(w, "\n")
			msg := c.Message(text)
			closeCapture(t, c)
			lines := bodies(sink.stored())
			if len(lines) != 2 {
				t.Fatalf("stored %d lines, want 2: %q", len(lines), sink.stored())
			}
			for i, what := range []string{"Logger", "Writer"} {
				if problem := masktest.Check(form, masktest.Secret, strings.TrimPrefix(lines[i], "INFO ")); problem != "" {
					t.Errorf("%s line: %s", what, problem)
				}
			}
			if problem := masktest.Check(form, masktest.Secret, msg); problem != "" {
				t.Errorf("message: %s", problem)
			}
		})
	}
}
