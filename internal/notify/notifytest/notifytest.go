// Package notifytest has receivers that stand in for DingTalk, Feishu,
// WeCom, Slack, a webhook consumer and an SMTP server in tests: real
// servers on 127.0.0.1 that check what the real services document
// (signatures are recomputed from the documented algorithms, written here
// independently of the sender's code) and record what they accepted.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Received is one request a receiver accepted.
type Received struct {
	// At is when the request arrived.
	At    time.Time
	Query map[string]string
	Body  map[string]any
	Raw   []byte
}

// Receiver is an HTTP receiver on 127.0.0.1. Set Fail and RejectStatus
// before the first request.
type Receiver struct {
	*httptest.Server
	// Got receives a value for each accepted request.
	Got chan struct{}
	// Fail answers 500 to this many requests first.
	Fail int
	// RejectStatus, when set, is the HTTP status of a rejected request
	// (the chat robots answer 200 with an error code).
	RejectStatus int

	mu   sync.Mutex
	got  []Received
	hits int
}

// Messages returns the accepted requests, in order.
func (r *Receiver) Messages() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Requests counts every request, accepted or not.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// NewReceiver starts a receiver whose verify decides the answer: nil
// accepts (200 with ok), else the robot's error answer (200 with a
// non-zero code, as the real robots answer).
func NewReceiver(t testing.TB, verify func(r *http.Request, body []byte) (ok bool, answer string)) *Receiver {
	t.Helper()
	rc := &Receiver{Got: make(chan struct{}, 100)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits++
		if rc.Fail > 0 {
			rc.Fail--
			rc.mu.Unlock()
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		rc.mu.Unlock()
		ok, answer := verify(r, body)
		if ok {
			q := map[string]string{}
			for k := range r.URL.Query() {
				q[k] = r.URL.Query().Get(k)
			}
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			rc.mu.Lock()
			rc.got = append(rc.got, Received{At: arrived, Query: q, Body: m, Raw: body})
			rc.mu.Unlock()
			select {
			case rc.Got <- struct{}{}:
			default:
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok && rc.RejectStatus != 0 {
			w.WriteHeader(rc.RejectStatus)
		}
		io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// DingTalk checks a custom robot request as DingTalk documents:
// access_token in the URL and, with a secret, timestamp (ms, within an
// hour) and sign = base64(HMAC-SHA256(key=secret, timestamp+"\n"+secret)).
func DingTalk(t testing.TB, token, secret string) *Receiver {
	return NewReceiver(t, func(r *http.Request, body []byte) (bool, string) {
		q := r.URL.Query()
		if q.Get("access_token") != token {
			return false, `{"errcode":300001,"errmsg":"token is not exist"}`
		}
		if secret != "" {
			ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
			if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour {
				return false, `{"errcode":310000,"errmsg":"timestamp invalid"}`
			}
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
			if q.Get("sign") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
				return false, `{"errcode":310000,"errmsg":"sign not match"}`
			}
		}
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Title, Text string }
		}
		if json.Unmarshal(body, &m) != nil || m.MsgType != "markdown" || m.Markdown.Text == "" || m.Markdown.Title == "" {
			return false, `{"errcode":40035,"errmsg":"bad message"}`
		}
		return true, `{"errcode":0,"errmsg":"ok"}`
	})
}

// Feishu checks a custom bot request as Feishu documents:
// timestamp (seconds, within an hour) and sign in the body, sign =
// base64(HMAC-SHA256(key=timestamp+"\n"+secret, empty message)).
func Feishu(t testing.TB, secret string) *Receiver {
	return NewReceiver(t, func(r *http.Request, body []byte) (bool, string) {
		var m struct {
			Timestamp string         `json:"timestamp"`
			Sign      string         `json:"sign"`
			MsgType   string         `json:"msg_type"`
			Card      map[string]any `json:"card"`
		}
		if json.Unmarshal(body, &m) != nil {
			return false, `{"code":9499,"msg":"Bad Request"}`
		}
		ts, err := strconv.ParseInt(m.Timestamp, 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Hour {
			return false, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`
		}
		mac := hmac.New(sha256.New, []byte(m.Timestamp+"\n"+secret))
		if m.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return false, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`
		}
		if m.MsgType != "interactive" || m.Card["header"] == nil {
			return false, `{"code":9499,"msg":"bad card"}`
		}
		return true, `{"code":0,"data":{},"msg":"success"}`
	})
}

// Webhook checks the ConnectHub signature headers.
func Webhook(t testing.TB, secret string) *Receiver {
	rc := NewReceiver(t, func(r *http.Request, body []byte) (bool, string) {
		ts := r.Header.Get("X-ConnectHub-Timestamp")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		if r.Header.Get("X-ConnectHub-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			return false, `{"error":"bad signature"}`
		}
		return true, `{"Received":true}`
	})
	rc.RejectStatus = http.StatusUnauthorized
	return rc
}

// SMTPServer is a small SMTP server built on net/textproto that records
// what it is sent. It offers STARTTLS (unless implicit, when the whole
// connection is TLS) and AUTH PLAIN, and refuses mail before AUTH when it
// has a user.
type SMTPServer struct {
	ln             net.Listener
	cert           tls.Certificate
	implicit       bool
	user, password string
	mu             sync.Mutex
	msgs           []SMTPMessage
	got            chan struct{}
}

// SMTPMessage is one mail as the server received it.
type SMTPMessage struct {
	From   string
	To     []string
	Data   string
	TLS    bool
	Authed bool
}

func NewSMTPServer(t testing.TB, cert tls.Certificate, implicit bool, user, password string) *SMTPServer {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{ln: ln, cert: cert, implicit: implicit, user: user, password: password, got: make(chan struct{}, 10)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

// Port is the port the server listens on.
func (s *SMTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Messages returns the mail received, in order.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.msgs...)
}

func (s *SMTPServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	tlsOn, authed := s.implicit, false
	var cur SMTPMessage
	tp.PrintfLine("220 127.0.0.1 test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			tp.PrintfLine("250-127.0.0.1 hello")
			if !tlsOn {
				tp.PrintfLine("250-STARTTLS")
			}
			tp.PrintfLine("250-AUTH PLAIN")
			tp.PrintfLine("250 8BITMIME")
		case "STARTTLS":
			tp.PrintfLine("220 ready to start TLS")
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if tc.Handshake() != nil {
				return
			}
			conn, tp, tlsOn = tc, textproto.NewConn(tc), true
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(initial)
			if strings.ToUpper(mech) != "PLAIN" || err != nil || string(raw) != "\x00"+s.user+"\x00"+s.password {
				tp.PrintfLine("535 5.7.8 authentication failed")
				continue
			}
			authed = true
			tp.PrintfLine("235 2.7.0 authenticated")
		case "MAIL":
			if s.user != "" && !authed {
				tp.PrintfLine("530 5.7.0 authentication required")
				continue
			}
			cur = SMTPMessage{From: bracketed(arg), TLS: tlsOn, Authed: authed}
			tp.PrintfLine("250 ok")
		case "RCPT":
			cur.To = append(cur.To, bracketed(arg))
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.Data = string(data)
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			s.got <- struct{}{}
			tp.PrintfLine("250 2.0.0 queued")
		case "RSET", "NOOP":
			tp.PrintfLine("250 ok")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 command not recognized")
		}
	}
}

// Cert makes a self-signed certificate for 127.0.0.1 and the pool
// that trusts it.
func Cert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// bracketed returns the address between < and > of a MAIL or RCPT
// argument, whatever parameters follow it.
func bracketed(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}
