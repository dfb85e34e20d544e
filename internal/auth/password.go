package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/connecthub/connecthub"
)

// Password hashing parameters: argon2id with 19 MiB of memory, two passes
// and one lane, the first of OWASP's recommended settings. A check costs
// tens of milliseconds on one core: slow for a guesser holding a copy of
// the database, cheap enough for a login form behind the Guard.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds of the parameters a stored hash may name, so that a hash written
// into the database by hand cannot make every login take a gigabyte.
const (
	maxArgonMemory  = 256 * 1024
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// Password length bounds, in characters and bytes. A long passphrase is
// welcome; a megabyte is not.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// CheckPassword reports whether pw is acceptable as a new password.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return connecthub.FieldError("password", "", "password must be UTF-8 text")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return connecthub.FieldError("password", "password_too_short", "password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return connecthub.FieldError("password", "password_too_long", "password must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// HashPassword returns the encoded argon2id hash of pw, in the PHC string
// format every argon2 library reads:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is the cause of a stored hash that cannot be read.
var errBadHash = errors.New("auth: stored password hash is not an argon2id hash this server can read")

// VerifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. An empty or unreadable hash matches nothing, but costs
// the same work as a real check, so that the time a login takes does not
// tell a guesser whether the username exists.
func VerifyPassword(encoded, pw string) bool {
	p, err := parseHash(encoded)
	if err != nil || len(pw) > MaxPasswordLen {
		dummyVerify(pw)
		return false
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// dummyVerify does the work of one password check against a hash nobody
// knows the password of.
func dummyVerify(pw string) {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword("connecthub-no-such-user-password") })
	if p, err := parseHash(dummyHash); err == nil {
		if len(pw) > MaxPasswordLen {
			pw = pw[:MaxPasswordLen]
		}
		_ = argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	}
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseHash(encoded string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, errBadHash
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil {
		return p, errBadHash
	}
	if p.memory < 8 || p.memory > maxArgonMemory || p.time < 1 || p.time > maxArgonTime || threads < 1 || threads > maxArgonThreads {
		return p, errBadHash
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, errBadHash
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errBadHash
	}
	return p, nil
}
