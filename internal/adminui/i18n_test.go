package adminui

import (
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// verbRE finds the fmt verbs of a catalog text.
var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*[vsdqfx%]`)

func verbs(s string) []string {
	var out []string
	for _, v := range verbRE.FindAllString(s, -1) {
		if v != "%%" {
			out = append(out, v)
		}
	}
	return out
}

// TestCatalogsMatch: every language has every key, with the same fmt verbs
// in the same order, and no empty text.
func TestCatalogsMatch(t *testing.T) {
	t.Parallel()
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	base := cats[languages[0]]
	if len(base) < 100 {
		t.Fatalf("the %s catalog has only %d keys", languages[0], len(base))
	}
	for _, lang := range languages {
		cat := cats[lang]
		for key, text := range cat {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", lang, key)
			}
			if _, ok := base[key]; !ok {
				t.Errorf("%s has %s, which %s lacks", lang, key, languages[0])
			}
		}
		for key, text := range base {
			other, ok := cat[key]
			if !ok {
				t.Errorf("%s lacks %s", lang, key)
				continue
			}
			if a, b := verbs(text), verbs(other); strings.Join(a, " ") != strings.Join(b, " ") {
				t.Errorf("%s: %s has verbs %v, %s has %v", key, languages[0], a, lang, b)
			}
		}
	}
}

// usedKeys collects the catalog keys the templates and the Go code name
// literally, plus the families they build with printf.
func usedKeys(t *testing.T) []string {
	t.Helper()
	keys := map[string]bool{}
	tplKey := regexp.MustCompile(`[({\s]t "([a-z0-9_.]+)"`)
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tplKey.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	goKey := regexp.MustCompile(`"((?:flash|error|login|runs|run|jobs|job|dashboard|nodes|confirm|time|duration)\.[a-z0-9_.]+)"`)
	goFiles, err := fs.Glob(os.DirFS("."), "*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	// Families built at run time.
	for _, s := range connecthub.AllStatuses {
		keys["status."+string(s)] = true
	}
	for _, tr := range allTriggers {
		keys["trigger."+string(tr)] = true
	}
	for _, s := range []string{connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating, connecthub.NodeInactive} {
		keys["node.state."+s] = true
	}
	for _, k := range []string{connecthub.NodeKindServer, connecthub.NodeKindWorker} {
		keys["node.kind."+k] = true
	}
	for _, c := range []string{connecthub.ConcurrencyForbid, connecthub.ConcurrencyAllow, connecthub.ConcurrencyReplace} {
		keys["job.concurrency."+c] = true
	}
	for _, m := range []string{connecthub.MisfireSkip, connecthub.MisfireOnce, connecthub.MisfireAll} {
		keys["job.misfire."+m] = true
	}
	for _, f := range []string{"timeout", "max_attempts", "retry_backoff", "misfire_window", "queue", "priority"} {
		keys["job."+f] = true
		keys["job."+f+".help"] = true
	}
	for _, a := range []string{"delete", "purge"} {
		keys["confirm."+a+".title"] = true
	}
	for _, code := range []int{400, 401, 403, 404, 409, 413, 422, 500, 503} {
		keys[fmt.Sprintf("error.%d", code)] = true
		keys[fmt.Sprintf("error.%d.message", code)] = true
	}
	for k := range flashKinds {
		keys[k] = true
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEveryUsedKeyIsInTheCatalogs: a key the UI uses but no catalog has
// would show as the raw key.
func TestEveryUsedKeyIsInTheCatalogs(t *testing.T) {
	t.Parallel()
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := usedKeys(t)
	if len(used) < 100 {
		t.Fatalf("found only %d used keys: the scan is broken", len(used))
	}
	for _, lang := range languages {
		for _, k := range used {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s catalog lacks %q", lang, k)
			}
		}
	}
}

func TestPickLanguage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept, cookie, want string
	}{
		{"", "", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "", "zh-CN"},
		{"zh-TW", "", "zh-CN"},
		{"en-US,en;q=0.9", "", "en"},
		{"fr-FR,zh;q=0.5,en;q=0.4", "", "zh-CN"},
		{"fr-FR,en;q=0.6,zh;q=0.5", "", "en"},
		{"de", "", "en"},
		{"en;q=0.1,zh-CN;q=0.9", "", "zh-CN"},
		{"zh-CN;q=0", "", "en"},
		{"zh-CN", "en", "en"},
		{"en", "zh-CN", "zh-CN"},
		{"en", "klingon", "en"},
		{"garbage;;;q=x,,", "", "en"},
	} {
		r := httptest.NewRequest("GET", "/admin/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if tc.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+tc.cookie)
		}
		if got := pickLanguage(r); got != tc.want {
			t.Errorf("Accept-Language %q, cookie %q: got %s, want %s", tc.accept, tc.cookie, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                       "/admin/",
		"/admin/jobs?q=x":        "/admin/jobs?q=x",
		"/admin":                 "/admin",
		"https://evil.example/":  "/admin/",
		"//evil.example/admin":   "/admin/",
		"/administrator":         "/admin/",
		"/admin/../api/v1/jobs":  "/admin/",
		"/admin/./jobs/":         "/admin/jobs/",
		"/admin\\@evil.example":  "/admin/",
		"/admin/\r\nLocation: x": "/admin/",
		"/api/v1/jobs":           "/admin/",
		"javascript:alert(1)":    "/admin/",
		"/admin/runs/01H?x=1&y":  "/admin/runs/01H?x=1&y",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
