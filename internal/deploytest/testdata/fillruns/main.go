// Command fillruns grows the run history of a stopped node's SQLite
// database for the upgrade test: fillruns DB RUN-ID N adds N copies of the
// run. It is built without the race detector, which slows SQLite (a C
// library translated to Go) a hundredfold in the test binary itself.
package main

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"

	_ "modernc.org/sqlite"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fillruns:", err)
		os.Exit(1)
	}
}

// run copies the run in one statement. Each copy's id keeps the original's
// time part and numbers the rest (digits are in the ULID alphabet), so ids
// stay unique, valid and in creation order.
func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: fillruns DB RUN-ID N")
	}
	n, err := strconv.Atoi(args[2])
	if err != nil || n < 1 {
		return fmt.Errorf("N: want a positive number, got %q", args[2])
	}
	db, err := sql.Open("sqlite", "file:"+args[0]+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM pragma_table_info('runs') ORDER BY cid`)
	if err != nil {
		return err
	}
	var cols, sel []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		cols = append(cols, `"`+c+`"`)
		if c == "id" {
			sel = append(sel, `substr(r.id, 1, 10) || printf('%016d', n.i)`)
		} else {
			sel = append(sel, `r."`+c+`"`)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(cols) == 0 {
		return fmt.Errorf("%s has no runs table", args[0])
	}
	q := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
		INSERT INTO runs (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(sel, ", ") + ` FROM runs r, n WHERE r.id = ?2`
	res, err := db.Exec(q, n, args[1])
	if err != nil {
		return err
	}
	if added, err := res.RowsAffected(); err != nil || added != int64(n) {
		return fmt.Errorf("added %d runs (%v), want %d: is %s a run?", added, err, n, args[1])
	}
	return nil
}
