// Package seeyontest provides a fake Seeyon OA REST server for tests: token
// login, token checks with both ways Seeyon rejects a token, and the CAP4
// form export, as the seeyon package documents them. It never talks to a
// real OA.
package seeyontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Paths the fake serves.
const (
	TokenPath      = "/seeyon/rest/token"
	FormExportPath = "/seeyon/rest/cap4/form/soap/export"
)

// Default credentials, used when Options leaves them empty.
const (
	DefaultUser     = "rest"
	DefaultPassword = "rest-password"
)

// Rejection is how the fake refuses a token it does not accept.
type Rejection int

const (
	// RejectStatus answers HTTP 401 with a body that does not mention the
	// token.
	RejectStatus Rejection = iota
	// RejectBody answers HTTP 200 with {"code":1010,"message":"Invalid
	// token"}, as some Seeyon versions do.
	RejectBody
)

// Options configures a Server.
type Options struct {
	// User and Password are the REST credentials the fake accepts.
	User     string
	Password string
	// PlainTextToken makes logins answer with the token as text/plain
	// instead of {"id": …}.
	PlainTextToken bool
	// Rejection chooses how a bad token is refused.
	Rejection Rejection
	// OnAnswered, when set, is called for each request other than a login
	// once its answer has been written and flushed, with the path and
	// whether the token was accepted. The answer does not end before the
	// hook returns, so a test may block in it to hold answers back until
	// several requests have arrived.
	OnAnswered func(path string, accepted bool)
}

// Field is one field of a form definition the fake exports.
type Field struct {
	Name    string // the column, e.g. "field0001"
	Display string // the label, e.g. "工号"
}

// Server is a running fake OA. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the client.
	URL string

	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	seq        int
	tokens     map[string]bool
	issued     []string
	rejectAll  bool
	logins     int
	loginNames []string
	requests   map[string]int
	forms      map[string]form
	exports    []map[string]any
	handlers   map[string]http.HandlerFunc
}

type form struct {
	body        []byte
	contentType string
}

// NewServer starts a fake OA that t's cleanup closes.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.User == "" {
		opts.User = DefaultUser
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	s := &Server{
		opts:     opts,
		tokens:   make(map[string]bool),
		requests: make(map[string]int),
		forms:    make(map[string]form),
		handlers: make(map[string]http.HandlerFunc),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// SetForm makes an export of templateCode answer body with contentType.
func (s *Server) SetForm(templateCode string, body []byte, contentType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forms[templateCode] = form{body: body, contentType: contentType}
}

// SetFormExport makes an export of templateCode answer BuildFormExport(fields,
// rows) as JSON.
func (s *Server) SetFormExport(templateCode string, fields []Field, rows []map[string]string) {
	s.SetForm(templateCode, BuildFormExport(templateCode, fields, rows), "application/json;charset=UTF-8")
}

// Handle serves path with h for requests that carry an accepted token (the
// fake answers the others as it answers a bad token).
func (s *Server) Handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

// ExpireTokens makes every token issued so far unknown, as a server restart
// or an idle timeout does.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// RejectAllTokens makes the fake refuse every token, even a fresh one, while
// reject is true.
func (s *Server) RejectAllTokens(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectAll = reject
}

// Logins returns the number of login requests received (successful or not).
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// LoginNames returns the loginName of each login request, in order.
func (s *Server) LoginNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.loginNames...)
}

// Tokens returns every token issued so far, in order, so a test can check
// that none of them leaked into a log or an error.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Requests returns the number of requests received for path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Exports returns the bodies of the export requests that carried an
// accepted token, in order.
func (s *Server) Exports() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.exports...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	s.mu.Unlock()
	if r.URL.Path == TokenPath {
		s.login(w, r)
		return
	}
	h := s.export
	if r.URL.Path != FormExportPath {
		s.mu.Lock()
		h = s.handlers[r.URL.Path]
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
	}
	accepted := s.authorized(w, r)
	if accepted {
		h(w, r)
	}
	if s.opts.OnAnswered != nil {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.opts.OnAnswered(r.URL.Path, accepted)
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		UserName  string `json:"userName"`
		Password  string `json:"password"`
		LoginName string `json:"loginName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "bad request body"})
		return
	}
	if req.UserName != s.opts.User || req.Password != s.opts.Password {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "用户名或密码错误"})
		return
	}
	s.mu.Lock()
	s.seq++
	tok := fmt.Sprintf("%08x-5eee-4c0a-9d1b-%012d", s.seq*2654435761%(1<<32), s.seq)
	s.tokens[tok] = true
	s.issued = append(s.issued, tok)
	s.loginNames = append(s.loginNames, req.LoginName)
	s.mu.Unlock()
	if s.opts.PlainTextToken {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		fmt.Fprint(w, tok)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":          tok,
		"bindingUser": map[string]any{"loginName": req.LoginName, "name": req.UserName},
	})
}

// authorized checks the request's token and answers a refusal if it is not
// accepted.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok := r.Header.Get("token")
	s.mu.Lock()
	ok := tok != "" && s.tokens[tok] && !s.rejectAll
	s.mu.Unlock()
	if ok {
		return true
	}
	if s.opts.Rejection == RejectBody {
		writeJSON(w, http.StatusOK, map[string]any{"code": 1010, "message": "Invalid token"})
	} else {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "unauthorized"})
	}
	return false
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"code": "1001", "message": "the request body is not a JSON object"})
		return
	}
	s.mu.Lock()
	s.exports = append(s.exports, req)
	s.mu.Unlock()
	code, _ := req["templateCode"].(string)
	if code == "" {
		writeJSON(w, http.StatusOK, map[string]any{"code": "1001", "message": "templateCode is required"})
		return
	}
	s.mu.Lock()
	f, ok := s.forms[code]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"code": "1002", "message": "no form template " + code})
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.WriteHeader(http.StatusOK)
	w.Write(f.body)
}

// BuildFormExport returns a successful CAP4 export answer, in the shape the
// seeyon package documents on FormExport, for a form whose fields are fields
// and whose records are rows (each keyed by field label; a label a row
// lacks is exported as an empty value).
func BuildFormExport(templateCode string, fields []Field, rows []map[string]string) []byte {
	defFields := make([]map[string]any, 0, len(fields))
	for _, f := range fields {
		defFields = append(defFields, map[string]any{"name": f.Name, "display": f.Display, "fieldType": "VARCHAR"})
	}
	records := make([]map[string]any, 0, len(rows))
	for i, row := range rows {
		master := make(map[string]any, len(fields))
		for _, f := range fields {
			v := row[f.Display]
			master[f.Name] = map[string]any{"value": v, "showValue": v}
		}
		records = append(records, map[string]any{
			"id":         fmt.Sprintf("-%d", 5712368402364717830+int64(i)),
			"masterData": master,
			"subData":    map[string]any{},
		})
	}
	b, err := json.Marshal(map[string]any{
		"code":    0,
		"message": "",
		"data": map[string]any{
			"data": map[string]any{
				"definition": map[string]any{
					"templateCode": templateCode,
					"formName":     templateCode,
					"tableName":    "formmain_0412",
					"fields":       defFields,
				},
				"data":  records,
				"total": len(records),
			},
		},
	})
	if err != nil {
		panic(err) // only maps of strings and numbers: cannot fail
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
