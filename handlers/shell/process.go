package shell

import "os"

// launch is what start needs to run one command.
type launch struct {
	path           string   // the program, already looked up in PATH
	args           []string // the argument vector, argv[0] included
	dir            string   // the working directory; "" = the server's
	env            []string // the whole environment, never nil
	stdout, stderr *os.File
	user           *Account // nil: the server's user
}

// startFailure is a command that could not be started, learned only once
// the process that was to run it had been started (the supervisor on Linux).
type startFailure struct{ err error }

func (e *startFailure) Error() string { return e.err.Error() }
func (e *startFailure) Unwrap() error { return e.err }
