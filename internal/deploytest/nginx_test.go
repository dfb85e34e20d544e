package deploytest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxBin is Debian's nginx, which scripts/ensure-nginx.sh installs.
const nginxBin = "/usr/sbin/nginx"

// deployFile reads a file of deploy/ from the repository.
func deployFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// substitute replaces every old with new in s, and fails the test when old
// is not there: the rendering must notice when a shipped file changed
// shape, rather than test something else.
func substitute(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the shipped nginx file no longer contains %q; update the rendering", old)
	}
	return strings.ReplaceAll(s, old, new)
}

// nginx is a Debian nginx started by a test: in the foreground, as a child,
// with its configuration, pid file, logs and temporary files in a
// directory of its own.
type nginx struct {
	t      *testing.T
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// proxySnippet is the shipped connecthub-proxy.conf, copied next to the
// rendered site so that the site's include finds it.
const proxySnippet = "connecthub-proxy.conf"

// startNginx starts nginx serving site, an http-context configuration in
// which "@PROXY@" stands for the path of the shipped proxy snippet and
// "@LISTEN@" for the address nginx listens on. It waits until nginx
// accepts connections.
func startNginx(t *testing.T, site string) *nginx {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		skipOrFail(t, "nginx is not installed at %s (scripts/ensure-nginx.sh installs Debian's)", nginxBin)
	}
	// When the test runs as root, nginx's worker processes run as nobody
	// and must reach the temporary directories.
	dir := openTempDir(t, "connecthub-nginx-")
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o777); err != nil {
			t.Fatal(err)
		}
		// 0777 against the umask: the workers write request bodies there.
		if err := os.Chmod(filepath.Join(dir, sub), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	n := &nginx{t: t, dir: dir, port: freePort(t)}
	if err := os.WriteFile(filepath.Join(dir, proxySnippet), []byte(deployFile(t, "nginx/"+proxySnippet)), 0o644); err != nil {
		t.Fatal(err)
	}
	n.writeSite(site)
	user := ""
	if os.Geteuid() == 0 {
		user = "user nobody nogroup;"
	}
	main := fmt.Sprintf(`# Rendered by internal/deploytest: nginx in the foreground, everything it
# writes under %[1]s.
%[2]s
daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log notice;
events { worker_connections 512; }
http {
    log_format upstream '$status $request_method $uri upstream=$upstream_addr upstream_status=$upstream_status';
    access_log %[1]s/logs/access.log upstream;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[1]s/site.conf;
}
`, dir, user)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir + "/", "-c", conf, "-e", filepath.Join(dir, "logs", "error.log")}
	if out, err := exec.Command(nginxBin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\nsite:\n%s", err, out, site)
	}
	n.cmd = exec.Command(nginxBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	n.exited = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		// SIGQUIT: graceful stop, then the workers are gone too.
		_ = n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	})
	waitFor(t, "nginx to accept connections", 20*time.Second, func() bool {
		select {
		case <-n.exited:
			t.Fatalf("nginx exited: %v\n%s", n.err, n.errorLog())
		default:
		}
		c, err := net.Dial("tcp", n.addr())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return n
}

func (n *nginx) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// url is nginx's base URL.
func (n *nginx) url() string { return "http://" + n.addr() }

func (n *nginx) writeSite(site string) {
	n.t.Helper()
	site = strings.ReplaceAll(site, "@PROXY@", filepath.Join(n.dir, proxySnippet))
	site = strings.ReplaceAll(site, "@LISTEN@", n.addr())
	if err := os.WriteFile(filepath.Join(n.dir, "site.conf"), []byte(site), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// reload switches nginx to site, as `nginx -t && nginx -s reload` would,
// and waits until the old worker processes have been told to go: from then
// on new connections are served with the new configuration.
func (n *nginx) reload(site string) {
	n.t.Helper()
	n.writeSite(site)
	conf := filepath.Join(n.dir, "nginx.conf")
	args := []string{"-p", n.dir + "/", "-c", conf, "-e", filepath.Join(n.dir, "logs", "error.log")}
	if out, err := exec.Command(nginxBin, append(args, "-t")...).CombinedOutput(); err != nil {
		n.t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	before := strings.Count(n.errorLog(), "gracefully shutting down")
	if out, err := exec.Command(nginxBin, append(args, "-s", "reload")...).CombinedOutput(); err != nil {
		n.t.Fatalf("nginx -s reload: %v\n%s", err, out)
	}
	// Each old worker logs this once it stopped accepting; with two
	// workers, two lines per reload.
	waitFor(n.t, "nginx to reload", 20*time.Second, func() bool {
		return strings.Count(n.errorLog(), "gracefully shutting down") >= before+2
	})
}

func (n *nginx) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "logs", "error.log"))
	return string(b)
}

// accessLines returns the access log's lines.
func (n *nginx) accessLines() []string {
	f, err := os.Open(filepath.Join(n.dir, "logs", "access.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// servedBy counts the access log's 2xx answers that came from upstream
// port (the last upstream tried for each request).
func (n *nginx) servedBy(port int) int {
	re := regexp.MustCompile(fmt.Sprintf(`^2\d\d .* upstream=(?:.*, )?127\.0\.0\.1:%d upstream_status=(?:.*, )?2\d\d$`, port))
	count := 0
	for _, l := range n.accessLines() {
		if re.MatchString(l) {
			count++
		}
	}
	return count
}

// renderCompose renders the shipped deploy/nginx/compose.conf for two
// replicas on 127.0.0.1: the service names become the replicas' ports,
// nginx listens on its test port and includes the shipped snippet from its
// directory. Docker's DNS resolver and `resolve` go: they follow a
// re-created container to its new address (and need nginx 1.27.3); here a
// replica comes back on the same address.
func renderCompose(t *testing.T, port1, port2 int) string {
	t.Helper()
	s := deployFile(t, "nginx/compose.conf")
	s = substitute(t, s, "resolver 127.0.0.11 valid=10s ipv6=off;", "")
	s = substitute(t, s, " resolve ", " ")
	s = substitute(t, s, "connecthub-1:8000", fmt.Sprintf("127.0.0.1:%d", port1))
	s = substitute(t, s, "connecthub-2:8000", fmt.Sprintf("127.0.0.1:%d", port2))
	s = substitute(t, s, "listen 80;", "listen @LISTEN@;")
	s = substitute(t, s, "include /etc/nginx/snippets/connecthub-proxy.conf;", "include @PROXY@;")
	return s
}
