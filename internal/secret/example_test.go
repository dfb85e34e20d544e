package secret_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/connecthub/connecthub/internal/secret"
)

func Example() {
	dir, err := os.MkdirTemp("", "connecthub-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The first start creates the key file; later starts read it.
	keys, created, err := secret.LoadOrCreate(filepath.Join(dir, "fernet.key"))
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range keys.Warnings() {
		log.Print(w)
	}
	fmt.Println("created:", created)

	token, err := keys.EncryptJSON(map[string]any{"api_key": "sk-123"})
	if err != nil {
		log.Fatal(err)
	}
	// Tokens pasted from elsewhere may be quoted or wrapped; they are cleaned.
	cfg, err := keys.DecryptJSON("b'" + token[:30] + "\n" + token[30:] + "'")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("api_key:", cfg["api_key"])

	_, err = keys.DecryptJSON(token[:50])
	fmt.Println(err)
	fmt.Println(errors.Is(err, secret.ErrTruncated))
	// Output:
	// created: true
	// api_key: sk-123
	// secret_cfg token looks truncated; re-enter secret_cfg
	// true
}

// Rotating keys: put a new key first in the key file and keep the old one
// after it until every stored token has been rotated.
func ExampleKeyring_Rotate() {
	const oldKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	const newKey = "ISmMIcGnUZuWMrMaOvBZXQiN4eoIxyrjmaKL-0zOrWk="

	before, err := secret.Parse(oldKey, "fernet.key")
	if err != nil {
		log.Fatal(err)
	}
	stored, err := before.Encrypt([]byte("s3cret"))
	if err != nil {
		log.Fatal(err)
	}

	keys, err := secret.Parse("# new key first\n"+newKey+"\n"+oldKey+"\n", "fernet.key")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("needs rotation:", keys.NeedsRotation(stored))
	rotated, err := keys.Rotate(stored)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("needs rotation after:", keys.NeedsRotation(rotated))

	// Once the old key is removed, only rotated tokens remain readable.
	_, err = before.Decrypt(rotated)
	fmt.Println(err)
	// Output:
	// needs rotation: true
	// needs rotation after: false
	// secret_cfg cannot be decrypted with the key(s) in fernet.key: wrong key, or the key was rotated away
}

func ExampleRedacted() {
	type Config struct {
		Listen     string
		AdminToken secret.Redacted
	}
	cfg := Config{Listen: ":8000", AdminToken: "tok-123"}
	fmt.Printf("%+v\n", cfg)
	fmt.Println(cfg.AdminToken.Reveal() == "tok-123")
	// Output:
	// {Listen::8000 AdminToken:******}
	// true
}
