package httpcall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrEgressDenied is the code of a call the egress policy refused. Errors
// that carry it match it with errors.Is, and their text starts with it, so
// that a run's `error` can be recognised by its first word.
var ErrEgressDenied = errors.New("egress_denied")

// DefaultDeny is the deny-list of an Egress built without one: the link-local
// range that holds the cloud metadata services of AWS, GCP, Azure and others
// (169.254.169.254), and the IPv6 address of AWS's (fd00:ec2::254). Those
// services hand out the host's cloud credentials to anyone who asks, so a job
// author must not be able to make the server ask for them.
var DefaultDeny = []string{"169.254.0.0/16", "fd00:ec2::254/128"}

// Egress says which addresses the handler may connect to. A destination is
// refused when its host name or any address it is about to connect to matches
// the deny-list; when an allow-list is set, it must also match the allow-list,
// by host name or by address. Deny wins over allow.
//
// Addresses are checked when the connection is made, after DNS resolution, so
// that a name that resolves to a denied address (DNS rebinding included) is
// refused whatever it resolved to before; host names are checked before every
// request and every redirect as well.
type Egress struct {
	deny  []egressRule
	allow []egressRule // nil: everything not denied is allowed
}

// egressRule is one entry of a list: a CIDR prefix or a host name.
type egressRule struct {
	text   string
	prefix netip.Prefix // valid for an address rule
	host   string       // lower case, no trailing dot; for a name rule
	domain bool         // the rule was ".example.com" or "*.example.com": subdomains match
}

// DefaultEgress returns the policy of DefaultDeny and no allow-list.
func DefaultEgress() *Egress {
	e, err := ParseEgress(nil, nil)
	if err != nil {
		panic(err) // DefaultDeny is a constant that parses
	}
	return e
}

// ParseEgress builds a policy from a deny-list and an allow-list. Each entry
// is a CIDR prefix ("10.0.0.0/8", "fd00::/8"), a single address ("127.0.0.1",
// a /32 or /128), a host name ("metadata.google.internal"), or a domain with
// its subdomains (".internal" or "*.internal"). A nil deny-list means
// DefaultDeny; the single entry "none" means an empty one. A nil or empty
// allow-list means no allow-list. Blank entries are ignored.
func ParseEgress(deny, allow []string) (*Egress, error) {
	if deny == nil {
		deny = DefaultDeny
	}
	if len(deny) == 1 && strings.EqualFold(strings.TrimSpace(deny[0]), "none") {
		deny = nil
	}
	var e Egress
	var errs []error
	for _, list := range []struct {
		name    string
		entries []string
		rules   *[]egressRule
	}{{"deny", deny, &e.deny}, {"allow", allow, &e.allow}} {
		for _, s := range list.entries {
			if strings.TrimSpace(s) == "" {
				continue
			}
			r, err := parseEgressRule(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s-list: %w", list.name, err))
				continue
			}
			*list.rules = append(*list.rules, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &e, nil
}

func parseEgressRule(s string) (egressRule, error) {
	s = strings.TrimSpace(s)
	r := egressRule{text: s}
	if strings.Contains(s, "://") {
		return r, fmt.Errorf("%q is a URL: write only its host name or address", s)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return r, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", s)
		}
		r.prefix = p.Masked()
		return r, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		r.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		return r, nil
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name, r.domain = rest, true
	} else if rest, ok := strings.CutPrefix(name, "."); ok {
		name, r.domain = rest, true
	}
	if !validHostName(name) {
		return r, fmt.Errorf("%q is neither a CIDR prefix, an IP address nor a host name", s)
	}
	r.host = name
	return r, nil
}

// validHostName accepts letters, digits, hyphens and underscores in
// dot-separated labels.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (r egressRule) matchesName(host string) bool {
	if r.host == "" {
		return false
	}
	return host == r.host || (r.domain && strings.HasSuffix(host, "."+r.host))
}

func (r egressRule) matchesAddr(a netip.Addr) bool {
	return r.prefix.IsValid() && r.prefix.Contains(a)
}

// EgressError is a connection the policy refused.
type EgressError struct {
	// Address is what was refused: the host name, or host:port.
	Address string
	// Reason says which rule refused it.
	Reason string
}

func (e *EgressError) Error() string {
	return fmt.Sprintf("%s: %s is %s", ErrEgressDenied, e.Address, e.Reason)
}

// Is makes errors.Is(err, ErrEgressDenied) true.
func (e *EgressError) Is(target error) bool { return target == ErrEgressDenied }

// nameVerdict is what a host name alone decides.
type nameVerdict int

const (
	nameUndecided nameVerdict = iota // the addresses decide
	nameAllowed                      // on the allow-list: only the deny-list of addresses applies
)

// normalizeHost lowers a host name and drops a trailing dot and the brackets
// of an IPv6 literal.
func normalizeHost(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// checkName applies the name rules to host, and the address rules too when
// host is an IP literal.
func (e *Egress) checkName(host string) (nameVerdict, error) {
	host = normalizeHost(host)
	if a, err := netip.ParseAddr(host); err == nil {
		return nameUndecided, e.checkAddr(nameUndecided, host, a)
	}
	for _, r := range e.deny {
		if r.matchesName(host) {
			return nameUndecided, &EgressError{Address: host, Reason: "on the deny-list (" + r.text + ")"}
		}
	}
	for _, r := range e.allow {
		if r.matchesName(host) {
			return nameAllowed, nil
		}
	}
	return nameUndecided, nil
}

// checkAddr applies the address rules to a, an address host resolved to.
func (e *Egress) checkAddr(v nameVerdict, address string, a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, r := range e.deny {
		if r.matchesAddr(a) {
			return &EgressError{Address: address, Reason: "on the deny-list (" + r.text + ")"}
		}
	}
	if e.allow == nil || v == nameAllowed {
		return nil
	}
	for _, r := range e.allow {
		if r.matchesAddr(a) {
			return nil
		}
	}
	return &EgressError{Address: address, Reason: "not on the allow-list"}
}

// checkURLHost checks the host of a request's URL before it is sent: a
// denied name or IP literal is refused without a DNS query.
func (e *Egress) checkURLHost(host string) error {
	_, err := e.checkName(host)
	return err
}

// dialContext wraps dial so that every connection it makes is checked: the
// host name before resolution, and the address after it. With a *net.Dialer
// the address is checked in its Control hook, before the connection is
// attempted; any other dial function is checked on the connection's remote
// address once it is made, before a byte is sent.
func (e *Egress) dialContext(dialer *net.Dialer, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		v, err := e.checkName(host)
		if err != nil {
			return nil, err
		}
		if dial == nil {
			d := *dialer
			prev := d.Control
			// Control sees every address the dialer tries, after DNS
			// resolution: a name that resolves to several addresses has
			// each one checked, and a denied one is skipped for the next.
			d.Control = func(network, address string, c syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return &EgressError{Address: address, Reason: "not an IP address"}
				}
				if err := e.checkAddr(v, address, ap.Addr()); err != nil {
					return err
				}
				if prev != nil {
					return prev(network, address, c)
				}
				return nil
			}
			return d.DialContext(ctx, network, addr)
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := e.checkConn(v, conn); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// The settings of http.DefaultTransport's dialer, kept for the dialer that
// replaces it.
const (
	defaultDialTimeout = 30 * time.Second
	defaultKeepAlive   = 30 * time.Second
)

// checkConn checks the remote address of a connection made by a dial
// function the policy does not control.
func (e *Egress) checkConn(v nameVerdict, conn net.Conn) error {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		// Not an IP connection (a Unix socket to a proxy): nothing to check.
		return nil
	}
	return e.checkAddr(v, ap.String(), ap.Addr())
}

// client returns a copy of base whose transport enforces the policy. A
// transport that is not an *http.Transport (a test double, a custom
// RoundTripper) is kept as it is: only the URL checks of every request and
// redirect apply to it.
func (e *Egress) client(base *http.Client) *http.Client {
	c := *base
	var t *http.Transport
	switch rt := base.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
		// The default transport's dial function is replaced by a dialer
		// with the same settings whose Control hook checks each address
		// before connecting to it.
		t.DialContext = nil
	case *http.Transport:
		t = rt.Clone()
	default:
		return &c
	}
	dialer := &net.Dialer{Timeout: defaultDialTimeout, KeepAlive: defaultKeepAlive}
	t.DialContext = e.dialContext(dialer, t.DialContext)
	if t.DialTLSContext != nil {
		t.DialTLSContext = e.dialContext(dialer, t.DialTLSContext)
	}
	c.Transport = t
	return &c
}
