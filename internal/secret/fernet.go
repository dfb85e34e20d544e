package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// The Fernet token layout (https://github.com/fernet/spec):
//
//	version (1, 0x80) | timestamp (8, big-endian Unix seconds) | IV (16) |
//	AES-128-CBC ciphertext of the PKCS7-padded plaintext (16·n, n ≥ 1) |
//	HMAC-SHA256 of everything before it (32)
const (
	tokenVersion = 0x80
	tsEnd        = 1 + 8                    // end of the timestamp
	headerLen    = tsEnd + aes.BlockSize    // version, timestamp, IV
	macLen       = sha256.Size              // HMAC-SHA256 tag
	overhead     = headerLen + macLen       // 57: a token without ciphertext
	minTokenLen  = overhead + aes.BlockSize // 73: the shortest valid token
	keyLen       = 32                       // signing key ‖ encryption key
)

// fernetKey is one decoded Fernet key: the first half signs, the second
// encrypts, as the Fernet spec splits it.
type fernetKey struct {
	signing    [16]byte
	encryption [16]byte
}

// decodeKey decodes a URL-safe base64 key (padding optional; the standard
// alphabet is accepted too, as Python's urlsafe_b64decode does). Errors never
// contain the key text.
func decodeKey(text string) (fernetKey, error) {
	raw, err := decodeBase64(text)
	if err != nil {
		return fernetKey{}, fmt.Errorf("the Fernet key is not URL-safe base64 (%s)", base64Problem(err))
	}
	if len(raw) != keyLen {
		return fernetKey{}, fmt.Errorf("the Fernet key decodes to %d bytes, want %d (44 base64 characters)", len(raw), keyLen)
	}
	var k fernetKey
	copy(k.signing[:], raw[:16])
	copy(k.encryption[:], raw[16:])
	return k, nil
}

// seal builds a token from its parts. Encrypt passes the current time and a
// random IV; tests pass fixed ones to compare with Python byte for byte.
func (k *fernetKey) seal(plaintext []byte, ts uint64, iv []byte) (string, error) {
	block, err := aes.NewCipher(k.encryption[:])
	if err != nil {
		return "", err
	}
	padLen := aes.BlockSize - len(plaintext)%aes.BlockSize
	bodyLen := headerLen + len(plaintext) + padLen
	msg := make([]byte, bodyLen, bodyLen+macLen)
	msg[0] = tokenVersion
	binary.BigEndian.PutUint64(msg[1:tsEnd], ts)
	copy(msg[tsEnd:headerLen], iv)
	body := msg[headerLen:]
	copy(body, plaintext)
	for i := len(plaintext); i < len(body); i++ {
		body[i] = byte(padLen)
	}
	cipher.NewCBCEncrypter(block, msg[tsEnd:headerLen]).CryptBlocks(body, body)
	mac := hmac.New(sha256.New, k.signing[:])
	mac.Write(msg)
	return base64.URLEncoding.EncodeToString(mac.Sum(msg)), nil
}

// verify reports whether data carries a valid HMAC under k, in constant time.
func (k *fernetKey) verify(data []byte) bool {
	if len(data) < overhead {
		return false
	}
	mac := hmac.New(sha256.New, k.signing[:])
	mac.Write(data[:len(data)-macLen])
	return hmac.Equal(mac.Sum(nil), data[len(data)-macLen:])
}

// open decrypts a token that verify accepted. The length checks repeat the
// caller's so that open is safe on any input by itself.
func (k *fernetKey) open(data []byte) ([]byte, error) {
	if len(data) < minTokenLen || (len(data)-overhead)%aes.BlockSize != 0 {
		return nil, malformed("signed, but the ciphertext is empty or not a whole number of blocks")
	}
	block, err := aes.NewCipher(k.encryption[:])
	if err != nil {
		return nil, err
	}
	ciphertext := data[headerLen : len(data)-macLen]
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, data[tsEnd:headerLen]).CryptBlocks(out, ciphertext)
	// A padding check cannot leak anything useful here: the HMAC was already
	// verified, so an attacker cannot choose the ciphertext.
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, malformed("signed, but the decrypted padding is invalid")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, malformed("signed, but the decrypted padding is invalid")
		}
	}
	return out[:len(out)-pad], nil
}

// timestamp returns the token's creation time in Unix seconds. data must be
// at least tsEnd bytes long, which decodeToken guarantees for tokens it
// accepts as complete.
func timestamp(data []byte) uint64 {
	return binary.BigEndian.Uint64(data[1:tsEnd])
}

// cleanToken undoes what copying and pasting does to a token: it removes all
// whitespace (surrounding, line breaks and indentation inside), any number
// of surrounding single or double quotes, and a Python bytes-literal wrapper
// b'...'. None of these characters can occur in URL-safe base64, so removing
// them never changes a real token. Quotes are stripped even when only one
// side has one, so that a truncated `b'gAAAA…` is still recognized as a
// truncated token.
func cleanToken(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	for {
		before := s
		if len(s) >= 2 && s[0] == 'b' && (s[1] == '\'' || s[1] == '"') {
			s = s[2:]
		}
		s = strings.TrimPrefix(s, "'")
		s = strings.TrimPrefix(s, `"`)
		s = strings.TrimSuffix(s, "'")
		s = strings.TrimSuffix(s, `"`)
		if s == before {
			return s
		}
	}
}

// decodeBase64 decodes URL-safe base64 with or without padding. The standard
// alphabet's '+' and '/' are read as '-' and '_', as Python's
// urlsafe_b64decode does, since they cannot mean anything else.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// base64Problem describes a decoding error without quoting the input, which
// may be secret.
func base64Problem(err error) string {
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		return fmt.Sprintf("bad character or length at offset %d", int64(corrupt))
	}
	return "undecodable"
}

// decodeToken cleans and decodes a token and checks its framing, but not its
// signature. It returns ErrTruncated for input that begins like a Fernet
// token but has lost bytes: either base64 that ends in the middle of a
// character group, or fewer bytes than a token without ciphertext. Tokens of
// at least overhead bytes are returned even when their ciphertext length is
// wrong, because only the signature tells a cut token (ErrTruncated) from a
// complete but badly built one (ErrMalformed); decrypt makes that call.
func decodeToken(token string) ([]byte, error) {
	s := strings.TrimRight(cleanToken(token), "=")
	if s == "" {
		return nil, malformed("the token is empty")
	}
	if len(s)%4 == 1 {
		// One character of a final group cannot encode a byte: the token
		// was cut. Decode the rest only to see whether it was a Fernet token.
		prefix, err := decodeBase64(s[:len(s)-1])
		if err == nil && (len(prefix) == 0 && s[0] == 'g' || len(prefix) > 0 && prefix[0] == tokenVersion) {
			return nil, ErrTruncated
		}
		return nil, malformed("the token is not valid base64")
	}
	data, err := decodeBase64(s)
	if err != nil {
		return nil, malformed("the token is not valid base64 (%s)", base64Problem(err))
	}
	if len(data) == 0 {
		return nil, malformed("the token is empty")
	}
	if data[0] != tokenVersion {
		return nil, malformed("the version byte is %#02x, want %#02x", data[0], tokenVersion)
	}
	if len(data) < overhead {
		return nil, ErrTruncated
	}
	return data, nil
}
