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

// The UI's languages, the first being the fallback. Each has one catalog,
// i18n/<tag>.json, holding every string the UI shows; a test checks that
// the catalogs have the same keys and the same placeholders.
var languages = []string{"en", "zh-CN"}

// langCookie remembers the language a person picked with the header switch;
// it wins over the browser's Accept-Language.
const langCookie = "connecthub_lang"

//go:embed i18n/*.json
var catalogFS embed.FS

// catalog maps a message key to its text in one language. Texts use fmt
// verbs for their arguments.
type catalog map[string]string

// loadCatalogs reads every language's catalog.
func loadCatalogs() (map[string]catalog, error) {
	out := make(map[string]catalog, len(languages))
	for _, lang := range languages {
		b, err := catalogFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("adminui: catalog %s: %w", lang, err)
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("adminui: catalog %s: %w", lang, err)
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
