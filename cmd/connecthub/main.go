// Command connecthub is ConnectHub: scheduled integration jobs, fired
// exactly once, executed by workers with leases, every run recorded.
//
// A custom build with your own handlers is this file plus one blank import
// of your package, whose init functions call handler.Register.
package main

import "github.com/connecthub/connecthub/app"

func main() { app.Main() }
