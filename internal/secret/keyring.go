package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Keyring holds one or more Fernet keys: the first encrypts, all decrypt
// (like Python's MultiFernet). Keeping old keys after the first lets a key be
// rotated without making existing secrets unreadable until Rotate has
// re-encrypted them. A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	keys     []fernetKey
	source   string
	warnings []string
}

// Parse builds a keyring from text: one URL-safe base64 key per line, blank
// lines and lines starting with # ignored, and keys on one line may be
// separated by commas (so a CONNECTHUB_FERNET_KEY style list parses too).
// source names the text in errors, usually the key file path; errors give
// the line number but never the key text.
func Parse(text, source string) (*Keyring, error) {
	name := source
	if name == "" {
		name = "Fernet key list"
	}
	text = strings.TrimPrefix(text, "\ufeff") // a BOM left by some editors
	var keys []fernetKey
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ",")
		for j, field := range fields {
			field = strings.TrimSpace(field)
			if field == "" {
				continue // tolerate "k1,,k2" and a trailing comma
			}
			key, err := decodeKey(field)
			if err != nil {
				where := fmt.Sprintf("%s line %d", name, i+1)
				if len(fields) > 1 {
					where += fmt.Sprintf(", key %d", j+1)
				}
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no Fernet key found (the text is empty or only comments); "+
			"if secrets were stored with a key, restore that key, since a new one cannot read them", name)
	}
	return &Keyring{keys: keys, source: source}, nil
}

// GenerateKey returns a fresh random Fernet key in the format Python's
// Fernet.generate_key produces: 32 bytes as padded URL-safe base64.
func GenerateKey() (string, error) {
	raw := make([]byte, keyLen)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return "", fmt.Errorf("generate Fernet key: %w", err)
	}
	return base64.URLEncoding.EncodeToString(raw), nil
}

// Source returns what the keys were read from (the key file path for
// LoadOrCreate), as named in error messages.
func (k *Keyring) Source() string {
	if k == nil {
		return ""
	}
	return k.source
}

// Warnings returns problems that do not stop the keyring from working but
// that an operator should fix, such as a key file readable by other users.
// Callers log them at startup.
func (k *Keyring) Warnings() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.warnings...)
}

// Encrypt returns a Fernet token of plaintext made with the first key and
// the current time.
func (k *Keyring) Encrypt(plaintext []byte) (string, error) {
	if err := k.usable(); err != nil {
		return "", err
	}
	return k.encryptAt(plaintext, uint64(time.Now().Unix()))
}

// encryptAt encrypts with the first key, a fresh IV and the given timestamp.
func (k *Keyring) encryptAt(plaintext []byte, ts uint64) (string, error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand.Reader, iv); err != nil {
		return "", fmt.Errorf("encrypt secret_cfg: %w", err)
	}
	return k.keys[0].seal(plaintext, ts, iv)
}

// Decrypt cleans token (see the package documentation), verifies it with
// each key in turn and returns the plaintext. The token's age is not
// checked. Errors match ErrTruncated, ErrWrongKey or ErrMalformed (except on
// a nil or zero Keyring, which is a programming error and says so).
func (k *Keyring) Decrypt(token string) ([]byte, error) {
	plaintext, _, _, err := k.open(token)
	return plaintext, err
}

// open decrypts token and also returns its timestamp and the index of the
// key that verified it.
func (k *Keyring) open(token string) (plaintext []byte, ts uint64, keyIndex int, err error) {
	if err := k.usable(); err != nil {
		return nil, 0, -1, err
	}
	data, err := decodeToken(token)
	if err != nil {
		return nil, 0, -1, err
	}
	keyIndex = k.match(data)
	if len(data) < minTokenLen || (len(data)-overhead)%aes.BlockSize != 0 {
		if keyIndex >= 0 {
			// Signed as it is, so nothing was cut off: it was built wrong.
			return nil, 0, -1, malformed("signed, but the ciphertext is empty or not a whole number of blocks")
		}
		return nil, 0, -1, ErrTruncated
	}
	if keyIndex < 0 {
		return nil, 0, -1, &wrongKeyError{source: k.source}
	}
	plaintext, err = k.keys[keyIndex].open(data)
	if err != nil {
		return nil, 0, -1, err
	}
	return plaintext, timestamp(data), keyIndex, nil
}

// match returns the index of the first key whose HMAC verifies data, or -1.
func (k *Keyring) match(data []byte) int {
	for i := range k.keys {
		if k.keys[i].verify(data) {
			return i
		}
	}
	return -1
}

// EncryptJSON encrypts v, a job's secret_cfg, as JSON. A nil map is stored
// as {} so that DecryptJSON always returns an object.
func (k *Keyring) EncryptJSON(v map[string]any) (string, error) {
	if v == nil {
		v = map[string]any{}
	}
	text, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("secret_cfg cannot be encoded as JSON: %w", err)
	}
	return k.Encrypt(text)
}

// DecryptJSON decrypts a token made by EncryptJSON (or by the Python
// ConnectHub, which stores json.dumps of a dict) into a non-nil map. Numbers
// are decoded as json.Number, not float64, so that an ID such as
// 12345678901234567890 or 1000000 keeps its exact digits when it is
// substituted into a request or re-encoded. Decryption errors are those of
// Decrypt; a payload that is not a JSON object gets an error that does not
// quote it.
func (k *Keyring) DecryptJSON(token string) (map[string]any, error) {
	plaintext, err := k.Decrypt(token)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(plaintext))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("secret_cfg decrypts to invalid JSON (syntax error at byte %d)", syntax.Offset)
		}
		return nil, errors.New("secret_cfg decrypts to invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("secret_cfg decrypts to invalid JSON (data after the object)")
	}
	switch obj := v.(type) {
	case map[string]any:
		return obj, nil
	case nil: // Python's json.dumps(None)
		return map[string]any{}, nil
	default:
		return nil, fmt.Errorf("secret_cfg decrypts to a JSON %s, not an object", jsonKind(obj))
	}
}

// jsonKind names the type of a value decoded with UseNumber, for error
// messages that must not show the value itself.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Rotate decrypts token with any key and re-encrypts it with the first,
// keeping its original timestamp (as Python's MultiFernet.rotate does) and
// its plaintext. It always re-encrypts; use NeedsRotation to skip tokens that
// are already current. The result is a clean token even if token was dirty.
func (k *Keyring) Rotate(token string) (string, error) {
	plaintext, ts, _, err := k.open(token)
	if err != nil {
		return "", err
	}
	return k.encryptAt(plaintext, ts)
}

// NeedsRotation reports whether token verifies with a key other than the
// first, that is whether Rotate would move it to the current key. It is
// false for tokens that no key verifies: Rotate cannot help them, and
// Decrypt says why.
func (k *Keyring) NeedsRotation(token string) bool {
	if k.usable() != nil {
		return false
	}
	data, err := decodeToken(token)
	if err != nil {
		return false
	}
	return k.match(data) > 0
}

// usable reports an error for a nil or zero Keyring instead of letting
// methods panic on it.
func (k *Keyring) usable() error {
	if k == nil || len(k.keys) == 0 {
		return errors.New("secret: keyring has no keys; build it with Parse or LoadOrCreate")
	}
	return nil
}
