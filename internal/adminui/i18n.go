package adminui

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The UI's languages, the first being the fallback. Each language's
// catalog is the union of i18n/<tag>.json and every i18n/<area>.<tag>.json,
// so that a feature keeps its strings in its own pair of files; a key
// defined twice is an error, and a test checks that the catalogs have the
// same keys and the same placeholders.
var languages = []string{"en", "zh-CN"}

// langCookie remembers the language a person picked with the header switch;
// it wins over the browser's Accept-Language.
const langCookie = "connecthub_lang"

//go:embed i18n/*.json
var catalogFS embed.FS

// catalog maps a message key to its text in one language. Texts use fmt
// verbs for their arguments.
type catalog map[string]string

// loadCatalogs reads every language's catalog from its files.
func loadCatalogs() (map[string]catalog, error) {
	entries, err := catalogFS.ReadDir("i18n")
	if err != nil {
		return nil, fmt.Errorf("adminui: catalogs: %w", err)
	}
	out := make(map[string]catalog, len(languages))
	for _, lang := range languages {
		c := catalog{}
		found := false
		for _, e := range entries {
			name := e.Name()
			if name != lang+".json" && !strings.HasSuffix(name, "."+lang+".json") {
				continue
			}
			found = true
			b, err := catalogFS.ReadFile("i18n/" + name)
			if err != nil {
				return nil, fmt.Errorf("adminui: catalog %s: %w", name, err)
			}
			var part catalog
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("adminui: catalog %s: %w", name, err)
			}
			for k, v := range part {
				if _, dup := c[k]; dup {
					return nil, fmt.Errorf("adminui: catalog %s: key %q is defined twice for %s", name, k, lang)
				}
				c[k] = v
			}
		}
		if !found {
			return nil, fmt.Errorf("adminui: no catalog for %s", lang)
		}
		out[lang] = c
	}
	return out, nil
}

// T returns the text of key with args formatted in. A missing key shows as
// the key itself, which the catalog tests keep from ever shipping.
func (c catalog) T(key string, args ...any) string {
	s, ok := c[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// pickLanguage chooses the page language: the switch's cookie, else the
// best match of Accept-Language, else English.
func pickLanguage(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if lang := matchLanguage(c.Value); lang != "" {
			return lang
		}
	}
	type pref struct {
		tag string
		q   float64
	}
	var prefs []pref
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > 0 {
			prefs = append(prefs, pref{tag, q})
		}
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if lang := matchLanguage(p.tag); lang != "" {
			return lang
		}
	}
	return languages[0]
}

// matchLanguage maps a BCP 47 tag to one of the UI's languages: any Chinese
// (zh, zh-CN, zh-Hans, zh-TW) reads the Simplified catalog, which is more
// useful to a Traditional reader than English.
func matchLanguage(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	switch {
	case tag == "zh" || strings.HasPrefix(tag, "zh-") || strings.HasPrefix(tag, "zh_"):
		return "zh-CN"
	case tag == "en" || strings.HasPrefix(tag, "en-") || strings.HasPrefix(tag, "en_"):
		return "en"
	}
	return ""
}

// setLanguage serves the header's language switch: it remembers the choice
// and returns to the page the person was on.
func (u *UI) setLanguage(w http.ResponseWriter, r *http.Request) {
	lang := matchLanguage(r.URL.Query().Get("to"))
	if lang == "" {
		lang = languages[0]
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: Prefix, MaxAge: int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// safeNext accepts only a path inside the UI as a redirect target, so that
// ?next= cannot send a person to another site (open redirect).
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return Prefix + "/"
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if clean != Prefix && !strings.HasPrefix(clean, Prefix+"/") {
		return Prefix + "/"
	}
	u.Path, u.RawPath = clean, ""
	return u.RequestURI()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
