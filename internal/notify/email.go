package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// sendEmail delivers m over SMTP: implicit TLS dials TLS at once,
// starttls requires the server to offer STARTTLS before anything else
// (and before AUTH) is sent, none is plain text (AUTH is then refused by
// Go's PLAIN mechanism unless the server is on this machine).
func (s *Sender) sendEmail(ctx context.Context, t Target, m Message) (string, error) {
	cfg := t.Channel.SMTP
	if cfg == nil {
		return "", errors.New("the email channel has no smtp settings")
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	tlsCfg := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		tlsCfg = s.cfg.TLSConfig.Clone()
		tlsCfg.ServerName = cfg.Host
	}
	var (
		conn net.Conn
		err  error
	)
	d := &net.Dialer{}
	if cfg.TLS == connecthub.SMTPImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return "", errors.New(t.clean(err.Error()))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return "", smtpErr(t, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return "", smtpErr(t, "EHLO", err)
	}
	if cfg.TLS == connecthub.SMTPStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return "", errors.New("the SMTP server does not offer STARTTLS; set smtp.tls to implicit or none")
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return "", smtpErr(t, "STARTTLS", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, t.Secret.Password, cfg.Host)); err != nil {
			return "", smtpErr(t, "AUTH", err)
		}
	}
	if err := c.Mail(addrOnly(cfg.From)); err != nil {
		return "", smtpErr(t, "MAIL FROM", err)
	}
	for _, to := range cfg.To {
		if err := c.Rcpt(addrOnly(to)); err != nil {
			return "", smtpErr(t, "RCPT TO "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", smtpErr(t, "DATA", err)
	}
	body, err := s.mimeMessage(cfg, m)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(body); err != nil {
		return "", smtpErr(t, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return "", smtpErr(t, "end of DATA", err)
	}
	_ = c.Quit()
	return fmt.Sprintf("SMTP 250 accepted for %d recipient(s)", len(cfg.To)), nil
}

func smtpErr(t Target, step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Errorf("SMTP %s: %d %s", step, te.Code, t.clean(te.Msg))
	}
	return fmt.Errorf("SMTP %s: %s", step, t.clean(err.Error()))
}

func addrOnly(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// mimeMessage builds a multipart/alternative mail with a text and an HTML
// part, both UTF-8 quoted-printable, and an encoded subject.
func (s *Sender) mimeMessage(cfg *connecthub.ChannelSMTP, m Message) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, text string }{{"text/plain", m.Text()}, {"text/html", m.HTML()}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype + "; charset=UTF-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(part.text)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := "connecthub"
	if a, err := mail.ParseAddress(cfg.From); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			domain = a.Address[at+1:]
		}
	}
	var msg bytes.Buffer
	h := []string{
		"From: " + cfg.From,
		"To: " + strings.Join(cfg.To, ", "),
		"Subject: " + mime.BEncoding.Encode("UTF-8", m.Title),
		"Date: " + s.now().Format("Mon, 02 Jan 2006 15:04:05 -0700"),
		"Message-ID: <" + hex.EncodeToString(id) + "@" + domain + ">",
		"MIME-Version: 1.0",
		"Content-Type: multipart/alternative; boundary=" + mw.Boundary(),
		"X-Mailer: ConnectHub",
	}
	msg.WriteString(strings.Join(h, "\r\n") + "\r\n\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}
