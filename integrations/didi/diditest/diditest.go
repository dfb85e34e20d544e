// Package diditest provides a fake Didi enterprise ("river") API for tests:
// authorization with expiring tokens, signature verification on every
// request, the errno envelope, and the legal-entity and member calls, as
// the didi package documents them. It never talks to the real service.
//
// Its signature check is written independently of didi.Sign, so a mistake
// in either shows up as a failed request.
package diditest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths the fake serves.
const (
	AuthorizePath      = "/river/Auth/authorize"
	LegalEntityGetPath = "/river/LegalEntity/get"
	MemberDetailPath   = "/river/Member/detail"
	MemberEditPath     = "/river/Member/edit"
)

// Default credentials, used when Options leaves them empty.
const (
	DefaultClientID     = "didi-client-1"
	DefaultClientSecret = "didi-client-secret"
	DefaultSignKey      = "didi-sign-key"
	DefaultPhone        = "13800000000"
	DefaultCompanyID    = "1125900000000001"
)

// Errnos of the fake's failures (the real service has its own numbers; the
// client does not depend on them).
const (
	ErrnoBadRequest         = 40000 // a parameter is missing or malformed
	ErrnoBadSign            = 40001 // the signature does not match
	ErrnoBadCredentials     = 40002 // client id, secret, phone or grant type is wrong
	ErrnoMemberNotFound     = 50202
	ErrnoLegalEntityUnknown = 50203
)

// Options configures a Server.
type Options struct {
	// The credentials the fake accepts.
	ClientID, ClientSecret, SignKey, Phone, CompanyID string
	// TokenTTL is the lifetime of an issued token (its expires_in);
	// zero means 30 minutes.
	TokenTTL time.Duration
	// Now is the fake's clock for token expiry; nil means time.Now.
	Now func() time.Time
	// OnEdit, when set, is called after each applied member edit, with the
	// member's id; a test may wait on it instead of sleeping.
	OnEdit func(memberID string)
	// OnUnauthorized, when set, is called after a 401 answer has been
	// written and flushed, with the request's path. The answer does not
	// end before it returns, so a test may block in it to hold rejections
	// back until several requests have arrived.
	OnUnauthorized func(path string)
}

// Member is a member the fake knows.
type Member struct {
	ID             string
	EmployeeNumber string
	Name           string
	Phone          string
	LegalEntityID  string
}

// Edit is one applied Member/edit.
type Edit struct {
	MemberID string
	Fields   map[string]any
	At       time.Time // by the wall clock, for checking pauses
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the client.
	URL string

	srv  *httptest.Server
	opts Options

	mu          sync.Mutex
	seq         int
	tokens      map[string]time.Time // token → expiry
	rejectAll   bool
	authorizes  int
	requests    map[string]int
	entities    []entity
	members     map[string]*Member
	edits       []Edit
	entityNames []string
}

type entity struct{ id, name, outID string }

// NewServer starts a fake that t's cleanup closes.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.ClientID, DefaultClientID)
	def(&opts.ClientSecret, DefaultClientSecret)
	def(&opts.SignKey, DefaultSignKey)
	def(&opts.Phone, DefaultPhone)
	def(&opts.CompanyID, DefaultCompanyID)
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 30 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		tokens:   make(map[string]time.Time),
		requests: make(map[string]int),
		members:  make(map[string]*Member),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddLegalEntity adds a legal entity.
func (s *Server) AddLegalEntity(id, name, outID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entities = append(s.entities, entity{id: id, name: name, outID: outID})
}

// AddMember adds (or replaces) a member.
func (s *Server) AddMember(m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[m.ID] = &m
}

// Member returns a member as it is now.
func (s *Server) Member(id string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[id]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// RevokeTokens makes every token issued so far invalid.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// RejectAllTokens makes the fake answer 401 to every call, even with a
// fresh token, while reject is true.
func (s *Server) RejectAllTokens(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectAll = reject
}

// Authorizations returns the number of authorize requests received.
func (s *Server) Authorizations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorizes
}

// Requests returns the number of requests received for path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// LegalEntityQueries returns the "name" of each LegalEntity/get that passed
// the checks, in order.
func (s *Server) LegalEntityQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entityNames)
}

// Edits returns the applied member edits, in order.
func (s *Server) Edits() []Edit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	s.mu.Unlock()

	var want string
	switch r.URL.Path {
	case AuthorizePath, MemberEditPath:
		want = http.MethodPost
	case LegalEntityGetPath, MemberDetailPath:
		want = http.MethodGet
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	params, err := readParams(r)
	if err != nil {
		fail(w, ErrnoBadRequest, err.Error())
		return
	}
	if params["sign"] == "" || params["sign"] != signature(params, s.opts.SignKey) {
		fail(w, ErrnoBadSign, "sign error")
		return
	}
	if _, err := strconv.ParseInt(params["timestamp"], 10, 64); err != nil {
		fail(w, ErrnoBadRequest, "timestamp must be Unix seconds")
		return
	}
	if params["client_id"] != s.opts.ClientID {
		fail(w, ErrnoBadCredentials, "unknown client_id")
		return
	}
	if r.URL.Path == AuthorizePath {
		s.authorize(w, params)
		return
	}
	if !s.tokenValid(params["access_token"]) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"errno": 401, "errmsg": "access_token invalid or expired"})
		if s.opts.OnUnauthorized != nil {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			s.opts.OnUnauthorized(r.URL.Path)
		}
		return
	}
	if params["company_id"] != s.opts.CompanyID {
		fail(w, ErrnoBadRequest, "unknown company_id")
		return
	}
	switch r.URL.Path {
	case LegalEntityGetPath:
		s.legalEntityGet(w, params)
	case MemberDetailPath:
		s.memberDetail(w, params)
	case MemberEditPath:
		s.memberEdit(w, params)
	}
}

// readParams returns a GET's query or a POST's JSON object of strings.
func readParams(r *http.Request) (map[string]string, error) {
	params := make(map[string]string)
	if r.Method == http.MethodGet {
		for k, v := range r.URL.Query() {
			if len(v) != 1 {
				return nil, fmt.Errorf("parameter %s is repeated", k)
			}
			params[k] = v[0]
		}
		return params, nil
	}
	if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
		return nil, fmt.Errorf("the body must be a JSON object of strings: %v", err)
	}
	return params, nil
}

// signature is the fake's own implementation of the documented algorithm.
func signature(params map[string]string, signKey string) string {
	pairs := []string{"sign_key=" + signKey}
	for k, v := range params {
		if k != "sign" {
			pairs = append(pairs, k+"="+v)
		}
	}
	slices.SortFunc(pairs, func(a, b string) int {
		ka, _, _ := strings.Cut(a, "=")
		kb, _, _ := strings.Cut(b, "=")
		return strings.Compare(ka, kb)
	})
	sum := md5.Sum([]byte(strings.Join(pairs, "&")))
	return hex.EncodeToString(sum[:])
}

func (s *Server) authorize(w http.ResponseWriter, p map[string]string) {
	s.mu.Lock()
	s.authorizes++
	s.mu.Unlock()
	if p["client_secret"] != s.opts.ClientSecret || p["phone"] != s.opts.Phone || p["grant_type"] != "client_credentials" {
		fail(w, ErrnoBadCredentials, "invalid client credentials")
		return
	}
	s.mu.Lock()
	s.seq++
	tok := fmt.Sprintf("at-%d-%x", s.seq, s.seq*2654435761%(1<<32))
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"access_token": tok,
		"expires_in":   int(s.opts.TokenTTL / time.Second),
		"token_type":   "Bearer",
		"scope":        "read write",
	})
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && !s.rejectAll && s.opts.Now().Before(exp)
}

func (s *Server) legalEntityGet(w http.ResponseWriter, p map[string]string) {
	offset, length := 0, 100
	if v, ok := p["offset"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(w, ErrnoBadRequest, "offset must be a non-negative integer")
			return
		}
		offset = n
	}
	if v, ok := p["length"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			fail(w, ErrnoBadRequest, "length must be an integer from 1 to 100")
			return
		}
		length = n
	}
	name := p["name"]
	s.mu.Lock()
	s.entityNames = append(s.entityNames, name)
	var matched []map[string]any
	for _, e := range s.entities {
		// The real service matches names loosely, so the fake does too.
		if name == "" || strings.Contains(e.name, name) {
			matched = append(matched, map[string]any{"legal_entity_id": e.id, "name": e.name, "out_legal_entity_id": e.outID})
		}
	}
	s.mu.Unlock()
	total := len(matched)
	page := matched[min(offset, total):min(offset+length, total)]
	ok(w, map[string]any{"total": total, "records": page})
}

func (s *Server) memberDetail(w http.ResponseWriter, p map[string]string) {
	s.mu.Lock()
	var found *Member
	for _, m := range s.members {
		if (p["member_id"] != "" && m.ID == p["member_id"]) ||
			(p["employee_number"] != "" && m.EmployeeNumber == p["employee_number"]) ||
			(p["phone"] != "" && m.Phone == p["phone"]) {
			found = m
			break
		}
	}
	var out map[string]any
	if found != nil {
		out = map[string]any{
			"member_id":       found.ID,
			"employee_number": found.EmployeeNumber,
			"realname":        found.Name,
			"phone":           found.Phone,
			"legal_entity_id": found.LegalEntityID,
		}
	}
	s.mu.Unlock()
	if p["member_id"] == "" && p["employee_number"] == "" && p["phone"] == "" {
		fail(w, ErrnoBadRequest, "member_id, employee_number or phone is required")
		return
	}
	if out == nil {
		fail(w, ErrnoMemberNotFound, "员工不存在")
		return
	}
	ok(w, out)
}

func (s *Server) memberEdit(w http.ResponseWriter, p map[string]string) {
	var fields map[string]any
	if err := json.Unmarshal([]byte(p["data"]), &fields); err != nil || len(fields) == 0 {
		fail(w, ErrnoBadRequest, "data must be a JSON object string")
		return
	}
	s.mu.Lock()
	m, found := s.members[p["member_id"]]
	var entityOK bool
	leID, setsEntity := fields["legal_entity_id"].(string)
	for _, e := range s.entities {
		entityOK = entityOK || e.id == leID
	}
	if found && setsEntity && entityOK {
		m.LegalEntityID = leID
		s.edits = append(s.edits, Edit{MemberID: m.ID, Fields: fields, At: time.Now()})
	}
	s.mu.Unlock()
	switch {
	case !found:
		fail(w, ErrnoMemberNotFound, "员工不存在")
	case !setsEntity:
		fail(w, ErrnoBadRequest, "the fake only edits legal_entity_id (a string)")
	case !entityOK:
		fail(w, ErrnoLegalEntityUnknown, "法人主体不存在")
	default:
		ok(w, nil)
		if s.opts.OnEdit != nil {
			s.opts.OnEdit(m.ID)
		}
	}
}

func ok(w http.ResponseWriter, data any) {
	writeJSON(w, map[string]any{"errno": 0, "errmsg": "SUCCESS", "data": data})
}

func fail(w http.ResponseWriter, errno int, msg string) {
	writeJSON(w, map[string]any{"errno": errno, "errmsg": msg, "data": nil})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
