package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// Principals of the route-by-role matrix, in its columns' order.
const (
	asViewer = iota
	asOperator
	asAdmin
	asWorker
	asNobody
	principals
)

var principalNames = [principals]string{"viewer", "operator", "admin", "worker token", "no credentials"}

// apiRow is what the matrix expects of one API route: the least role
// that may call it, whether a worker token may, and the status a caller
// that passes the role check gets (every request names things that do
// not exist, or has an empty body, so that it changes nothing).
type apiRow struct {
	role   connecthub.Role
	worker bool
	ok     int
	// byRole overrides ok for a principal whose answer depends on its
	// role inside the handler (the body names what needs admin).
	byRole map[int]int
}

// nodeNameFirst: a worker token is held to its node names before the
// body is read further, so an empty body is node_not_allowed for it.
var nodeNameFirst = map[int]int{asWorker: http.StatusForbidden}

// apiMatrix lists every API route. A route registered without a row here
// fails the test: adding a route means deciding, here too, who may call it.
var apiMatrix = map[string]apiRow{
	"GET /api/v1/jobs":                        {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/jobs":                       {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/jobs/{id}":                   {role: connecthub.RoleViewer, ok: 404},
	"PATCH /api/v1/jobs/{id}":                 {role: connecthub.RoleAdmin, ok: 404},
	"DELETE /api/v1/jobs/{id}":                {role: connecthub.RoleAdmin, ok: 404},
	"POST /api/v1/jobs/{id}/run":              {role: connecthub.RoleOperator, ok: 404},
	"POST /api/v1/jobs/{id}/enable":           {role: connecthub.RoleOperator, ok: 404},
	"POST /api/v1/jobs/{id}/disable":          {role: connecthub.RoleOperator, ok: 404},
	"DELETE /api/v1/jobs/{id}/runs":           {role: connecthub.RoleAdmin, ok: 404},
	"GET /api/v1/runs":                        {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/runs/{id}":                   {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/runs/{id}/log":               {role: connecthub.RoleViewer, ok: 404},
	"POST /api/v1/runs/{id}/retry":            {role: connecthub.RoleOperator, ok: 404},
	"POST /api/v1/runs/{id}/cancel":           {role: connecthub.RoleOperator, ok: 404},
	"GET /api/v1/jobs/{id}/chain":             {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/runs/{id}/chain":             {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/handlers":                    {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/cron/next":                   {role: connecthub.RoleViewer, ok: 400},
	"GET /api/v1/stats":                       {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/tokens":                     {role: connecthub.RoleViewer, ok: 400, byRole: map[int]int{asViewer: 403, asOperator: 403}},
	"GET /api/v1/tokens":                      {role: connecthub.RoleViewer, ok: 200},
	"DELETE /api/v1/tokens/{id}":              {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/sessions":                    {role: connecthub.RoleViewer, ok: 200},
	"DELETE /api/v1/sessions/{id}":            {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/users":                       {role: connecthub.RoleAdmin, ok: 200},
	"POST /api/v1/users":                      {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/users/{username}":            {role: connecthub.RoleAdmin, ok: 404},
	"PATCH /api/v1/users/{username}":          {role: connecthub.RoleAdmin, ok: 404},
	"GET /api/v1/me":                          {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/me/password":                {role: connecthub.RoleViewer, ok: 400},
	"POST /api/v1/worker/register":            {role: connecthub.RoleAdmin, worker: true, ok: 400, byRole: nodeNameFirst},
	"POST /api/v1/worker/keepalive":           {role: connecthub.RoleAdmin, worker: true, ok: 400, byRole: nodeNameFirst},
	"POST /api/v1/worker/prestop":             {role: connecthub.RoleAdmin, worker: true, ok: 400, byRole: nodeNameFirst},
	"POST /api/v1/worker/claim":               {role: connecthub.RoleAdmin, worker: true, ok: 400},
	"POST /api/v1/worker/heartbeat":           {role: connecthub.RoleAdmin, worker: true, ok: 400},
	"POST /api/v1/worker/runs/{id}/heartbeat": {role: connecthub.RoleAdmin, worker: true, ok: 400},
	"POST /api/v1/worker/runs/{id}/log":       {role: connecthub.RoleAdmin, worker: true, ok: 400},
	"POST /api/v1/worker/runs/{id}/complete":  {role: connecthub.RoleAdmin, worker: true, ok: 400},
	"GET /api/v1/nodes":                       {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/nodes/clean":                {role: connecthub.RoleOperator, ok: 200},
	"POST /api/v1/nodes/{name}/stop":          {role: connecthub.RoleOperator, ok: 404},
	"POST /api/v1/nodes/{name}/start":         {role: connecthub.RoleOperator, ok: 404},
	"GET /api/v1/sd/prometheus":               {role: connecthub.RoleViewer, worker: true, ok: 200},
	"GET /api/v1/proc/status":                 {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/proc/stop":                   {role: connecthub.RoleOperator, ok: 200},
	"GET /api/v1/proc/start":                  {role: connecthub.RoleOperator, ok: 200},
	"GET /api/v1/audit":                       {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/audit/export":                {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/calendars":                   {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/calendars":                  {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/calendars/{name}":            {role: connecthub.RoleViewer, ok: 404},
	"PUT /api/v1/calendars/{name}":            {role: connecthub.RoleAdmin, ok: 400},
	"DELETE /api/v1/calendars/{name}":         {role: connecthub.RoleAdmin, ok: 404},
	"GET /api/v1/queues":                      {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/queues/{name}/pause":        {role: connecthub.RoleOperator, ok: 200},
	"POST /api/v1/queues/{name}/resume":       {role: connecthub.RoleOperator, ok: 200},
	"POST /api/v1/runs/bulk/retry":            {role: connecthub.RoleOperator, ok: 400},
	"POST /api/v1/runs/bulk/cancel":           {role: connecthub.RoleOperator, ok: 400},
	"POST /api/v1/runs/bulk/delete":           {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/channels":                    {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/channels":                   {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/channels/{name}":             {role: connecthub.RoleViewer, ok: 404},
	"PATCH /api/v1/channels/{name}":           {role: connecthub.RoleAdmin, ok: 404},
	"DELETE /api/v1/channels/{name}":          {role: connecthub.RoleAdmin, ok: 404},
	"POST /api/v1/channels/{name}/test":       {role: connecthub.RoleAdmin, ok: 404},
	"GET /api/v1/alert-rules":                 {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/alert-rules":                {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/alert-rules/{id}":            {role: connecthub.RoleViewer, ok: 404},
	"PUT /api/v1/alert-rules/{id}":            {role: connecthub.RoleAdmin, ok: 400},
	"DELETE /api/v1/alert-rules/{id}":         {role: connecthub.RoleAdmin, ok: 404},
	"GET /api/v1/notifications":               {role: connecthub.RoleViewer, ok: 200},
	"GET /api/v1/notifications/{id}":          {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/batches":                     {role: connecthub.RoleViewer, ok: 200},
	"POST /api/v1/batches":                    {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/batches/{id}":                {role: connecthub.RoleViewer, ok: 404},
	"POST /api/v1/batches/{id}/rollback":      {role: connecthub.RoleAdmin, ok: 404},
	"/api/v1/":                                {role: connecthub.RoleViewer, ok: 404},

	// Job revisions ({n}, {a} and {b} are not numbers here: a 400).
	"GET /api/v1/jobs/{id}/revisions":              {role: connecthub.RoleViewer, ok: 404},
	"GET /api/v1/jobs/{id}/revisions/{n}":          {role: connecthub.RoleViewer, ok: 400},
	"GET /api/v1/jobs/{id}/revisions/{a}/diff/{b}": {role: connecthub.RoleViewer, ok: 400},
	"POST /api/v1/jobs/{id}/revisions/{n}/restore": {role: connecthub.RoleAdmin, ok: 400},
	"GET /api/v1/deleted-jobs":                     {role: connecthub.RoleViewer, ok: 200},
}

// uiMatrix lists every admin UI page and form behind the login, with the
// least role and the status of a caller that passes the role check.
var uiMatrix = map[string]struct {
	role connecthub.Role
	ok   int
}{
	"POST /admin/logout":                        {connecthub.RoleViewer, 303},
	"GET /admin/{$}":                            {connecthub.RoleViewer, 200},
	"GET /admin/jobs":                           {connecthub.RoleViewer, 200},
	"GET /admin/jobs/new":                       {connecthub.RoleAdmin, 200},
	"POST /admin/jobs":                          {connecthub.RoleAdmin, 422},
	"GET /admin/jobs/{id}":                      {connecthub.RoleViewer, 302},
	"GET /admin/jobs/{id}/edit":                 {connecthub.RoleViewer, 404},
	"POST /admin/jobs/{id}/edit":                {connecthub.RoleAdmin, 404},
	"POST /admin/jobs/{id}/run":                 {connecthub.RoleOperator, 404},
	"POST /admin/jobs/{id}/enable":              {connecthub.RoleOperator, 404},
	"POST /admin/jobs/{id}/disable":             {connecthub.RoleOperator, 404},
	"GET /admin/jobs/{id}/delete":               {connecthub.RoleAdmin, 404},
	"POST /admin/jobs/{id}/delete":              {connecthub.RoleAdmin, 404},
	"GET /admin/jobs/{id}/purge":                {connecthub.RoleAdmin, 404},
	"POST /admin/jobs/{id}/purge":               {connecthub.RoleAdmin, 404},
	"GET /admin/cron/preview":                   {connecthub.RoleViewer, 200},
	"GET /admin/runs":                           {connecthub.RoleViewer, 200},
	"GET /admin/runs/{id}":                      {connecthub.RoleViewer, 404},
	"GET /admin/runs/{id}/log":                  {connecthub.RoleViewer, 404},
	"POST /admin/runs/{id}/retry":               {connecthub.RoleOperator, 404},
	"POST /admin/runs/{id}/cancel":              {connecthub.RoleOperator, 404},
	"GET /admin/jobs/{id}/chain":                {connecthub.RoleViewer, 404},
	"GET /admin/runs/{id}/chain":                {connecthub.RoleViewer, 404},
	"GET /admin/nodes":                          {connecthub.RoleViewer, 200},
	"GET /admin/account":                        {connecthub.RoleViewer, 200},
	"POST /admin/account/password":              {connecthub.RoleViewer, 422},
	"POST /admin/account/tokens":                {connecthub.RoleViewer, 422},
	"POST /admin/account/tokens/{id}/revoke":    {connecthub.RoleViewer, 404},
	"POST /admin/account/sessions/{id}/revoke":  {connecthub.RoleViewer, 404},
	"GET /admin/users":                          {connecthub.RoleAdmin, 200},
	"POST /admin/users":                         {connecthub.RoleAdmin, 422},
	"POST /admin/users/{username}/role":         {connecthub.RoleAdmin, 400},
	"POST /admin/users/{username}/disable":      {connecthub.RoleAdmin, 404},
	"POST /admin/users/{username}/enable":       {connecthub.RoleAdmin, 404},
	"POST /admin/users/{username}/oidc-link":    {connecthub.RoleAdmin, 404},
	"GET /admin/audit":                          {connecthub.RoleViewer, 200},
	"GET /admin/batches":                        {connecthub.RoleViewer, 200},
	"GET /admin/batches/{id}":                   {connecthub.RoleViewer, 404},
	"GET /admin/batches/{id}/rollback":          {connecthub.RoleAdmin, 404},
	"POST /admin/batches/{id}/rollback":         {connecthub.RoleAdmin, 404},
	"GET /admin/calendars":                      {connecthub.RoleViewer, 200},
	"GET /admin/calendars/new":                  {connecthub.RoleAdmin, 200},
	"POST /admin/calendars":                     {connecthub.RoleAdmin, 422},
	"GET /admin/calendars/{name}":               {connecthub.RoleViewer, 404},
	"POST /admin/calendars/{name}":              {connecthub.RoleAdmin, 404},
	"GET /admin/calendars/{name}/delete":        {connecthub.RoleAdmin, 404},
	"POST /admin/calendars/{name}/delete":       {connecthub.RoleAdmin, 404},
	"GET /admin/jobs/{id}/history":              {connecthub.RoleViewer, 404},
	"GET /admin/jobs/{id}/run-params":           {connecthub.RoleOperator, 404},
	"POST /admin/jobs/{id}/run-params":          {connecthub.RoleOperator, 404},
	"GET /admin/queues":                         {connecthub.RoleViewer, 200},
	"POST /admin/queues/{name}/pause":           {connecthub.RoleOperator, 303},
	"POST /admin/queues/{name}/resume":          {connecthub.RoleOperator, 303},
	"GET /admin/runs/bulk/retry":                {connecthub.RoleOperator, 400},
	"POST /admin/runs/bulk/retry":               {connecthub.RoleOperator, 400},
	"GET /admin/runs/bulk/cancel":               {connecthub.RoleOperator, 400},
	"POST /admin/runs/bulk/cancel":              {connecthub.RoleOperator, 400},
	"GET /admin/runs/bulk/delete":               {connecthub.RoleAdmin, 400},
	"POST /admin/runs/bulk/delete":              {connecthub.RoleAdmin, 400},
	"GET /admin/notify/channels":                {connecthub.RoleViewer, 200},
	"GET /admin/notify/channels/new":            {connecthub.RoleAdmin, 200},
	"POST /admin/notify/channels":               {connecthub.RoleAdmin, 422},
	"GET /admin/notify/channels/{name}/edit":    {connecthub.RoleAdmin, 404},
	"POST /admin/notify/channels/{name}/edit":   {connecthub.RoleAdmin, 422},
	"POST /admin/notify/channels/{name}/test":   {connecthub.RoleAdmin, 404},
	"POST /admin/notify/channels/{name}/delete": {connecthub.RoleAdmin, 404},
	"GET /admin/notify/rules":                   {connecthub.RoleViewer, 200},
	"GET /admin/notify/rules/new":               {connecthub.RoleAdmin, 200},
	"POST /admin/notify/rules":                  {connecthub.RoleAdmin, 422},
	"GET /admin/notify/rules/{id}/edit":         {connecthub.RoleAdmin, 404},
	"POST /admin/notify/rules/{id}/edit":        {connecthub.RoleAdmin, 422},
	"POST /admin/notify/rules/{id}/delete":      {connecthub.RoleAdmin, 404},
	"GET /admin/notify/deliveries":              {connecthub.RoleViewer, 200},
	"GET /admin/notify/jobs/{id}/shortcut":      {connecthub.RoleAdmin, 404},
	"POST /admin/notify/jobs/{id}/shortcut":     {connecthub.RoleAdmin, 404},
	"/admin/":                                   {connecthub.RoleViewer, 404},

	// Job revisions ({n} is not a number here: a 400).
	"GET /admin/jobs/{id}/revisions":              {connecthub.RoleViewer, 404},
	"GET /admin/jobs/{id}/revisions/{n}/restore":  {connecthub.RoleAdmin, 400},
	"POST /admin/jobs/{id}/revisions/{n}/restore": {connecthub.RoleAdmin, 400},
	"GET /admin/deleted-jobs":                     {connecthub.RoleViewer, 200},
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// concrete turns a route pattern into a method and a path naming nothing
// that exists.
func concrete(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern+"no-such-route"
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = wildcard.ReplaceAllString(path, "nope")
	return method, path
}

var roleOf = [3]connecthub.Role{connecthub.RoleViewer, connecthub.RoleOperator, connecthub.RoleAdmin}

// TestRouteByRoleMatrix sends every API route and every admin form, as a
// viewer, an operator, an admin, a worker token and nobody, and asserts
// the exact status of each: a role below the route's gets 403 naming the
// role needed, and nothing happens. The routes come from the server's own
// table, so a route added without a role cannot register, and one added
// without a row here fails.
func TestRouteByRoleMatrix(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.1")
	admin := "Bearer " + nodeToken

	// One user per role, each with a personal token and a signed-in browser.
	var bearers [principals]string
	var browsers [3]*http.Client
	var csrf [3]string
	for i, role := range roleOf {
		name := "user-" + string(role)
		body := fmt.Sprintf(`{"username":%q,"role":%q,"password":"password of %s"}`, name, role, name)
		if resp, b := n.send(c, n.request(http.MethodPost, "/api/v1/users", body, "Authorization", admin)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, resp.StatusCode, b)
		}
		browsers[i] = clientFrom(t, "127.0.0.1")
		if st := n.loginAs(browsers[i], name, "password of "+name); st != http.StatusSeeOther {
			t.Fatalf("login as %s: %d", name, st)
		}
		csrf[i] = n.csrfOf(browsers[i])
		resp, b := n.send(browsers[i], n.request(http.MethodPost, "/api/v1/tokens", `{"name":"ci-`+name+`","scope":"user"}`,
			"X-CSRF-Token", csrf[i], "Content-Type", "application/json"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("personal token of %s: %d %s", name, resp.StatusCode, b)
		}
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(b), &tok); err != nil || !strings.HasPrefix(tok.Token, "chu_") {
			t.Fatalf("personal token of %s: %v %s", name, err, b)
		}
		bearers[i] = "Bearer " + tok.Token
	}
	resp, b := n.send(c, n.request(http.MethodPost, "/api/v1/tokens", `{"name":"w1","scope":"worker"}`, "Authorization", admin))
	var wtok struct{ Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(b), &wtok) != nil {
		t.Fatalf("worker token: %d %s", resp.StatusCode, b)
	}
	bearers[asWorker] = "Bearer " + wtok.Token

	apiRoutes, uiRoutes := n.srv.Routes()
	if len(apiRoutes) != len(apiMatrix) {
		t.Errorf("the server registers %d API routes, the matrix lists %d", len(apiRoutes), len(apiMatrix))
	}
	for _, r := range apiRoutes {
		row, ok := apiMatrix[r.Pattern]
		if !ok {
			t.Errorf("API route %q (role %s) has no row in the matrix: add one", r.Pattern, r.Role)
			continue
		}
		method, path := concrete(r.Pattern)
		for who := range principals {
			want := row.ok
			switch {
			case who == asNobody:
				want = http.StatusUnauthorized
			case who == asWorker && !row.worker:
				want = http.StatusForbidden
			case who < asWorker && !roleOf[who].Allows(row.role):
				want = http.StatusForbidden
			}
			if st, ok := row.byRole[who]; ok {
				want = st
			}
			body := ""
			if method == http.MethodPost || method == http.MethodPatch {
				body = "{}"
			}
			var headers []string
			if who != asNobody {
				headers = []string{"Authorization", bearers[who]}
			}
			resp, got := n.send(c, n.request(method, path, body, headers...))
			if resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%s", method, path, principalNames[who], resp.StatusCode, want, got)
				continue
			}
			if want == http.StatusForbidden && who < asWorker && row.byRole == nil &&
				!strings.Contains(got, "needs the "+string(row.role)+" role") {
				t.Errorf("%s %s as %s: the 403 does not name the role %s: %s", method, path, principalNames[who], row.role, got)
			}
		}
	}

	if len(uiRoutes) != len(uiMatrix) {
		t.Errorf("the UI registers %d routes behind the login, the matrix lists %d", len(uiRoutes), len(uiMatrix))
	}
	nobody := clientFrom(t, "127.0.0.1")
	for _, r := range uiRoutes {
		row, ok := uiMatrix[r.Pattern]
		if !ok {
			t.Errorf("UI route %q (role %s) has no row in the matrix: add one", r.Pattern, r.Role)
			continue
		}
		if r.Pattern == "POST /admin/logout" {
			continue // checked below, last: it ends the sessions
		}
		method, path := concrete(r.Pattern)
		for who := range principals {
			want := row.ok
			cl, headers := nobody, []string{}
			switch {
			case who == asNobody:
				want = http.StatusSeeOther // to the login page
			case who == asWorker:
				// A token is no login: the UI sends it to the login page.
				want, headers = http.StatusSeeOther, []string{"Authorization", bearers[asWorker]}
			default:
				cl = browsers[who]
				if !roleOf[who].Allows(row.role) {
					want = http.StatusForbidden
				}
			}
			body := ""
			if method == http.MethodPost {
				form := url.Values{}
				if who < asWorker {
					form.Set("csrf_token", csrf[who])
				}
				body = form.Encode()
				headers = append(headers, "Content-Type", "application/x-www-form-urlencoded")
			}
			if strings.Contains(path, "/cron/preview") {
				path += "?cron_expr=*/5+*+*+*+*"
			}
			resp, got := n.send(cl, n.request(method, path, body, headers...))
			if resp.StatusCode != want {
				t.Errorf("UI %s %s as %s: %d, want %d\n%.400s", method, path, principalNames[who], resp.StatusCode, want, got)
			}
			if want == http.StatusSeeOther && who >= asWorker && !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
				t.Errorf("UI %s %s as %s: redirected to %q, want the login page", method, path, principalNames[who], resp.Header.Get("Location"))
			}
		}
	}
	for who := range asWorker {
		form := url.Values{"csrf_token": {csrf[who]}}
		resp, _ := n.send(browsers[who], n.request(http.MethodPost, "/admin/logout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("logout as %s: %d, want 303", principalNames[who], resp.StatusCode)
		}
	}
}

// csrfOf reads the CSRF token of c's session from a page.
func (n *node) csrfOf(c *http.Client) string {
	n.t.Helper()
	_, page := n.get(c, "/admin/")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		n.t.Fatalf("no CSRF token in the dashboard:\n%.500s", page)
	}
	return m[1]
}

// TestRoleChangesHoldAtOnce: lowering a user's role takes effect on its
// very next request through its session and its personal token, and
// disabling it refuses both at once, without a restart or a cache to wait
// for.
func TestRoleChangesHoldAtOnce(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.1")
	admin := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	if resp, b := n.send(c, n.request(http.MethodPost, "/api/v1/users", `{"username":"li.lei","display_name":"李雷","role":"operator","password":"li lei's password"}`, admin...)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	browser := clientFrom(t, "127.0.0.1")
	if st := n.loginAs(browser, "li.lei", "li lei's password"); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	csrf := n.csrfOf(browser)
	resp, b := n.send(browser, n.request(http.MethodPost, "/api/v1/tokens", `{"name":"ci","scope":"user"}`, "X-CSRF-Token", csrf))
	var tok struct{ Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(b), &tok) != nil {
		t.Fatalf("personal token: %d %s", resp.StatusCode, b)
	}
	viaToken := func() int {
		resp, _ := n.send(c, n.request(http.MethodPost, "/api/v1/nodes/clean", "", "Authorization", "Bearer "+tok.Token))
		return resp.StatusCode
	}
	viaSession := func() int {
		resp, _ := n.send(browser, n.request(http.MethodPost, "/api/v1/nodes/clean", "", "X-CSRF-Token", csrf))
		return resp.StatusCode
	}
	patch := func(body string) {
		t.Helper()
		if resp, b := n.send(c, n.request(http.MethodPatch, "/api/v1/users/li.lei", body, admin...)); resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", body, resp.StatusCode, b)
		}
	}
	for _, step := range []struct {
		patch         string
		token, cookie int
	}{
		{"", 200, 200},
		{`{"role":"viewer"}`, 403, 403},
		{`{"role":"operator"}`, 200, 200},
		{`{"disabled":true}`, 401, 401},
		{`{"disabled":false}`, 401, 401}, // re-enabling does not bring revoked credentials back
	} {
		if step.patch != "" {
			patch(step.patch)
		}
		if got := viaToken(); got != step.token {
			t.Errorf("after %s, the personal token got %d, want %d", step.patch, got, step.token)
		}
		if got := viaSession(); got != step.cookie {
			t.Errorf("after %s, the session got %d, want %d", step.patch, got, step.cookie)
		}
	}
	if st := n.loginAs(clientFrom(t, "127.0.0.1"), "li.lei", "li lei's password"); st != http.StatusSeeOther {
		t.Errorf("login after re-enabling: %d, want 303", st)
	}
	patch(`{"disabled":true}`)
	if st := n.loginAs(clientFrom(t, "127.0.0.2"), "li.lei", "li lei's password"); st != http.StatusUnauthorized {
		t.Errorf("login while disabled: %d, want 401", st)
	}
}
