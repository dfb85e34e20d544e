// Package connecthub holds ConnectHub's domain: jobs, runs and their
// statuses, validation, and the error type every layer returns. It imports
// only the standard library and the cron package, so that every other
// package (store drivers, the scheduler, the worker runtime, the HTTP API)
// can depend on it without pulling anything else in.
package connecthub

// Version is the program's version, set at build time with
// -ldflags "-X github.com/connecthub/connecthub.Version=v1.2.3".
var Version = "dev"
