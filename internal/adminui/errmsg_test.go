package adminui

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// codeRE finds the error codes the Go sources give: a Code field, a
// FieldError's code argument, or a code constant.
var codeRE = regexp.MustCompile(`Code: *"([a-z_]+)"|FieldError\([^,()]+, *"([a-z_]+)"|Code[A-Za-z]* *= *"([a-z_]+)"`)

// sourceErrorCodes returns every error code the module's non-test Go files
// give, and the error kinds (an error without a code of its own shows its
// kind).
func sourceErrorCodes(t *testing.T) map[string]bool {
	t.Helper()
	codes := map[string]bool{}
	for _, k := range []connecthub.Kind{connecthub.KindInvalid, connecthub.KindUnauthorized, connecthub.KindForbidden,
		connecthub.KindNotFound, connecthub.KindConflict, connecthub.KindTooLarge, connecthub.KindUnprocessable,
		connecthub.KindUnavailable, connecthub.KindInternal} {
		codes[string(k)] = true
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "adminui":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "test"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range codeRE.FindAllStringSubmatch(string(b), -1) {
			codes[m[1]+m[2]+m[3]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) < 60 {
		t.Fatalf("found only %d error codes in the sources; the pattern no longer matches how errors are made", len(codes))
	}
	return codes
}

// mustCatalogs loads the catalogs or ends the test.
func mustCatalogs(t *testing.T) map[string]catalog {
	t.Helper()
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	return cats
}

// TestEveryErrorCodeIsTranslated: every code the service can return has a
// text in every language, the Chinese one in Chinese.
func TestEveryErrorCodeIsTranslated(t *testing.T) {
	t.Parallel()
	cats := mustCatalogs(t)
	for code := range sourceErrorCodes(t) {
		for _, lang := range languages {
			text, ok := cats[lang]["errors."+code]
			if !ok {
				t.Errorf("code %s has no text errors.%s in the %s catalog", code, code, lang)
				continue
			}
			if lang == "zh-CN" && !strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("code %s: the zh-CN text %q is not Chinese", code, text)
			}
		}
	}
}

// TestErrorText: the store's named errors carry the names their texts
// take, and every kind of error reads in the page's language.
func TestErrorText(t *testing.T) {
	t.Parallel()
	cats := mustCatalogs(t)
	cycle := store.CheckChainWrite(&connecthub.Job{ID: "a", OnSuccess: []string{"b"}},
		store.ChainGraph{"b": {OnFailure: []string{"a"}}}, map[string]bool{"b": true})
	unknown := store.CheckChainWrite(&connecthub.Job{ID: "a", OnFailure: []string{"ghost"}}, store.ChainGraph{}, map[string]bool{})
	for _, tc := range []struct {
		name   string
		err    error
		en, zh []string
	}{
		{"job_chained", store.ChainDeleteRefused("b", []string{"a1", "a2"}),
			[]string{"Job b cannot be deleted", "a1, a2"}, []string{"无法删除任务 b", "a1, a2"}},
		{"chain_cycle", cycle, []string{"cycle: a → b → a."}, []string{"成环", "a → b → a"}},
		{"unknown_job", unknown, []string{"Job ghost does not exist."}, []string{"任务 ghost 不存在"}},
		{"calendar_in_use", store.ErrCalendarInUse("cn", []string{"j1", "j2"}),
			[]string{"Calendar cn is used by job(s) j1, j2"}, []string{"日历 cn 正被任务 j1, j2 使用"}},
		{"calendar_not_found", store.ErrNoCalendar("cn"), []string{"Calendar cn was not found."}, []string{"找不到日历 cn"}},
		{"channel_in_use", store.ChannelInUse("ops"), []string{"Channel ops is used"}, []string{"通知渠道 ops 正被"}},
		{"batch_conflict", store.BatchConflict([]string{"y", "x"}), []string{"Job(s) x, y changed"}, []string{"任务 x, y 在生成计划后"}},
		{"user_exists", store.ErrUserExists("ann", nil), []string{"A user named ann exists"}, []string{"已经有名为 ann 的用户"}},
		{"count_changed", &connecthub.Error{Kind: connecthub.KindConflict, Code: "count_changed", Field: "expect", Args: []string{"7", "5"}},
			[]string{"now holds 7 runs, not the 5"}, []string{"现在有 7 个，而不是你确认的 5 个"}},
		{"no arguments", &connecthub.Error{Kind: connecthub.KindConflict, Code: "run_not_terminal", Message: "run is still running"},
			[]string{"The run is still running"}, []string{"该运行仍在进行"}},
		{"a kind without a code", connecthub.Errorf(connecthub.KindForbidden, "viewer may not"),
			[]string{"Your role does not allow this."}, []string{"你的角色无权"}},
		{"an invalid field", connecthub.FieldError("keep_runs", "", "keep_runs must not be negative"),
			[]string{"The value of keep_runs is not valid."}, []string{"字段 keep_runs 的值无效"}},
		{"an unknown code", &connecthub.Error{Kind: connecthub.KindConflict, Code: "brand_new", Message: "something new"},
			[]string{"(code brand_new)"}, []string{"（代码 brand_new）"}},
		{"names the text does not take", &connecthub.Error{Kind: connecthub.KindConflict, Code: "job_chained", Message: "job x is chained"},
			[]string{"(code job_chained)"}, []string{"（代码 job_chained）"}},
		{"an internal error", connecthub.Errorf(connecthub.KindInternal, "SELECT failed at /var/db"),
			[]string{"Something went wrong"}, []string{"服务器内部出错"}},
	} {
		for lang, want := range map[string][]string{"en": tc.en, "zh-CN": tc.zh} {
			got := errorTextIn(cats[lang], tc.err)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s in %s: %q lacks %q", tc.name, lang, got, w)
				}
			}
			if strings.Contains(got, "%!") || strings.Contains(got, "/var/db") {
				t.Errorf("%s in %s: %q", tc.name, lang, got)
			}
		}
	}
}
