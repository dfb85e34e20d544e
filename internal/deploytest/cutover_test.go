package deploytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/testpg"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, PEM, into
// dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	// Read by nginx's master process (root, when the test is).
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

var commentedUpstream = regexp.MustCompile(`(?m)^# Stage (\d),[^\n]*\n(?:#[^\n]*\n)*?(# upstream connecthub \{\n(?:#[^\n]*\n)*?# \}\n)`)

// renderCutover renders the shipped deploy/nginx/connecthub.conf at one
// stage of the cut-over: the stage's upstream block active (uncommented)
// and the others gone, the old deployment's port 8000 and the new one's
// 8100 replaced by the test's, the HTTPS server on the test's port with a
// test certificate, the redirecting HTTP server on another. IPv6 listens
// go (the test talks to 127.0.0.1), and `http2 on` becomes the listen
// parameter of nginx before 1.25.1, as the file's own comment says.
func renderCutover(t *testing.T, stage, oldPort, newPort, redirectPort int, cert, key string) string {
	t.Helper()
	s := deployFile(t, "nginx/connecthub.conf")
	stages := map[int]string{}
	active := regexp.MustCompile(`(?m)^upstream connecthub \{\n(?:[^\n]*\n)*?\}\n`)
	stages[0] = active.FindString(s)
	if stages[0] == "" {
		t.Fatal("connecthub.conf has no active upstream block (stage 0)")
	}
	s = active.ReplaceAllString(s, "")
	for _, m := range commentedUpstream.FindAllStringSubmatch(s, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		stages[n] = regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(m[2], "")
	}
	for n := range 4 {
		if stages[n] == "" {
			t.Fatalf("connecthub.conf has no upstream block for stage %d", n)
		}
	}
	s = stages[stage] + s
	s = substitute(t, s, "127.0.0.1:8000", fmt.Sprintf("127.0.0.1:%d", oldPort))
	if stage > 0 {
		s = substitute(t, s, "127.0.0.1:8100", fmt.Sprintf("127.0.0.1:%d", newPort))
	}
	s = substitute(t, s, "    listen [::]:80;\n", "")
	s = substitute(t, s, "    listen [::]:443 ssl;\n", "")
	s = substitute(t, s, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", redirectPort))
	s = substitute(t, s, "listen 443 ssl;", "listen @LISTEN@ ssl http2;")
	s = regexp.MustCompile(`(?m)^\s*http2 on;.*\n`).ReplaceAllString(s, "")
	s = substitute(t, s, "/etc/nginx/tls/connecthub.example.com/fullchain.pem", cert)
	s = substitute(t, s, "/etc/nginx/tls/connecthub.example.com/privkey.pem", key)
	s = substitute(t, s, "include /etc/nginx/snippets/connecthub-proxy.conf;", "include @PROXY@;")
	return s
}

// TestCutoverOnParallelPorts runs the cut-over of docs/deployment.md
// through nginx with the shipped connecthub.conf, stage by stage, with the
// checks the page tells the operator to make, while clients keep using the
// API and asking for runs over HTTPS: start the new deployment next to the
// old one (healthcheck, /health, nodes list), canary (both serve), switch
// (only the new one serves), drain the old one (its /health/ready says
// draining, it exits 0, nodes list shows only the new one), done. No
// request fails, no run is lost or doubled.
func TestCutoverOnParallelPorts(t *testing.T) {
	t.Parallel()
	dbURL := testpg.URL(t)
	dir := t.TempDir()
	key := keygen(t, dir)
	oldPort, newPort, redirectPort := freePort(t), freePort(t), freePort(t)
	oldEnv := replicaEnv(dbURL, key, filepath.Join(dir, "old"), oldPort)
	oldDeployment := newProcess(t, "", oldEnv, "serve")
	oldDeployment.start()

	cert, certKey, pool := selfSigned(t, openTempDir(t, "connecthub-tls-"))
	site := func(stage int) string { return renderCutover(t, stage, oldPort, newPort, redirectPort, cert, certKey) }
	ng := startNginx(t, site(0))
	base := "https://" + ng.addr()
	// The clients talk as the CLI and the Go client do (their default
	// transport, which speaks HTTP/2 to an HTTPS server), only trusting
	// the test's certificate. Over HTTP/2 a reloading nginx says which
	// requests it did not take (GOAWAY) and the transport sends those
	// again; over HTTP/1.1 a request written on a kept-alive connection
	// just as the old nginx worker closes it fails with EOF, whatever
	// ConnectHub does.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	c := apiClient(t, base, hc)
	ctx := t.Context()
	const job = "nap"
	if _, err := c.CreateJob(ctx, []byte(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":0.5},"max_attempts":1}`)); err != nil {
		t.Fatal(err)
	}
	// Plain HTTP only redirects to HTTPS.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/jobs", redirectPort)); err != nil || resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain HTTP: %v, %v; want 301 to HTTPS", resp, err)
	}

	loadCtx, stopLoad := contextWithCancel(t)
	res, wg := runLoad(loadCtx, c, job)
	cli := func(args ...string) (int, string) {
		return newProcess(t, "", map[string]string{"CONNECTHUB_SERVER_URL": "http://127.0.0.1:" + fmt.Sprint(newPort),
			"CONNECTHUB_ADMIN_TOKEN": testToken}, args...).run()
	}
	waitServed := func(port, more int) {
		t.Helper()
		from := ng.servedBy(port)
		waitFor(t, fmt.Sprintf("nginx to pass %d more requests to port %d", more, port), 30*time.Second,
			func() bool { return ng.servedBy(port) >= from+more })
	}
	waitServed(oldPort, 20)

	// 1. Start the new version on the parallel port and check it.
	newDeployment := newProcess(t, "", replicaEnv(dbURL, key, filepath.Join(dir, "new"), newPort), "serve")
	newDeployment.start()
	if code, out := cli("healthcheck", "--url", fmt.Sprintf("http://127.0.0.1:%d/health/ready", newPort)); code != 0 {
		t.Errorf("connecthub healthcheck of the new deployment: exit %d: %s", code, out)
	}
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/health", newPort)); !strings.Contains(body, connecthub.Version) {
		t.Errorf("GET /health of the new deployment = %s, want its version %s", body, connecthub.Version)
	}
	nodesShow := func(want ...int) {
		t.Helper()
		code, out := cli("nodes", "list")
		if code != 0 {
			t.Fatalf("connecthub nodes list: exit %d: %s", code, out)
		}
		for _, p := range []*process{oldDeployment, newDeployment} {
			shown := strings.Contains(out, fmt.Sprintf("-%d ", p.cmd.Process.Pid))
			wanted := false
			for _, w := range want {
				wanted = wanted || w == p.cmd.Process.Pid
			}
			if shown != wanted {
				t.Errorf("nodes list shows pid %d: %v, want %v:\n%s", p.cmd.Process.Pid, shown, wanted, out)
			}
		}
	}
	nodesShow(oldDeployment.cmd.Process.Pid, newDeployment.cmd.Process.Pid)

	// 2. Canary: both serve.
	ng.reload(site(1))
	waitServed(newPort, 10)
	waitServed(oldPort, 10)

	// 3. Switch: everything to the new deployment.
	ng.reload(site(2))
	// Requests already in flight at the reload finish as they started
	// (the old nginx workers finish them): count from the first ones the
	// new configuration passed on.
	waitServed(newPort, 10)
	oldAfterSwitch := ng.servedBy(oldPort)
	waitServed(newPort, 100)
	if n := ng.servedBy(oldPort) - oldAfterSwitch; n > 0 {
		t.Errorf("the old deployment, a backup after the switch, served %d requests", n)
	}

	// 4. Drain the old deployment while it runs a run of its own.
	waitFor(t, "a run in flight on the old deployment", 30*time.Second, func() bool {
		return runningOn(t, c, job, oldDeployment.cmd.Process.Pid) != ""
	})
	if err := oldDeployment.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawDraining := false
	waitFor(t, "the old deployment to exit", 60*time.Second, func() bool {
		select {
		case <-oldDeployment.exited:
			return true
		default:
		}
		if !sawDraining {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health/ready", oldPort))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sawDraining = resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "draining")
			}
		}
		return false
	})
	if oldDeployment.err != nil {
		t.Errorf("the old deployment exited with %v, want 0", oldDeployment.err)
	}
	if !sawDraining {
		t.Error(`the old deployment's /health/ready never answered 503 {"status":"draining"} during its drain`)
	}
	if !strings.Contains(oldDeployment.logs.String(), "connecthub stopped") {
		t.Error("the old deployment's log has no `connecthub stopped`")
	}
	nodesShow(newDeployment.cmd.Process.Pid)

	// 5. Done: the new deployment alone.
	ng.reload(site(3))
	waitServed(newPort, 20)
	stopLoad()
	wg.Wait()

	res.mu.Lock()
	defer res.mu.Unlock()
	t.Logf("cut-over through 4 stages: %d requests over HTTPS through nginx, %d failed, %d runs requested",
		res.requests, len(res.failures), len(res.runIDs))
	for _, f := range res.failures {
		t.Errorf("failed request: %s", f)
	}
	checkRuns(t, c, job, res.runIDs)
}

// httpGet returns the body of GET url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
