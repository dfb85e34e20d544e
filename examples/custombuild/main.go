// Command custombuild is connecthub with one extra package of handlers: a
// copy of cmd/connecthub/main.go plus one blank import.
package main

import (
	"github.com/connecthub/connecthub/app"

	_ "github.com/connecthub/connecthub/examples/custombuild/acme"
)

func main() { app.Main() }
