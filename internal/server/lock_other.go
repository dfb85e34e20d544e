//go:build !unix

package server

// lockDatabase does nothing where flock does not exist: there a second
// serve on one SQLite database is not detected.
func lockDatabase(string) (func() error, error) {
	return func() error { return nil }, nil
}
