package connecthub_test

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// architectureDoc is the page whose package table must list every package.
const architectureDoc = "docs/architecture.md"

// TestArchitecturePackageTable keeps the package table of
// docs/architecture.md true: every Go package of the module has exactly one
// row, and every row names a package that exists. A table that nobody checks
// drifts as soon as a package is added or moved, and a new maintainer reads
// the page first.
func TestArchitecturePackageTable(t *testing.T) {
	t.Parallel()
	pkgs, err := modulePackages(".")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows, dups := packageRows(string(doc))
	if len(rows) == 0 {
		t.Fatalf("%s: no package table found under \"## Packages\" (rows look like | `internal/store` | what it holds |)", architectureDoc)
	}
	var missing, extra []string
	for _, p := range pkgs {
		if !slices.Contains(rows, p) {
			missing = append(missing, p)
		}
	}
	for _, r := range rows {
		if !slices.Contains(pkgs, r) {
			extra = append(extra, r)
		}
	}
	if len(missing) == 0 && len(extra) == 0 && len(dups) == 0 {
		return
	}
	var msg strings.Builder
	msg.WriteString(architectureDoc + ": the package table under \"## Packages\" does not match the module's packages.\n")
	if len(missing) > 0 {
		msg.WriteString("Add a row for each of these packages:\n")
		for _, p := range missing {
			msg.WriteString("\t| `" + p + "` | <what it holds> |\n")
		}
	}
	if len(extra) > 0 {
		msg.WriteString("Remove the rows of these, which are not packages of the module:\n")
		for _, p := range extra {
			msg.WriteString("\t| `" + p + "` |\n")
		}
	}
	if len(dups) > 0 {
		msg.WriteString("Keep one row of each of these, listed more than once:\n")
		for _, p := range dups {
			msg.WriteString("\t| `" + p + "` |\n")
		}
	}
	t.Error(msg.String())
}

// modulePackages returns the directories under root, relative to it and
// slash-separated, that hold a Go package ("." for root itself), skipping
// what the go command skips: testdata, vendor, directories whose names
// start with "." or "_", and nested modules.
func modulePackages(root string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root {
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		if _, err := build.ImportDir(path, 0); err != nil {
			var noGo *build.NoGoError
			if errors.As(err, &noGo) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, filepath.ToSlash(rel))
		return nil
	})
	return pkgs, err
}

// packageRows returns the package of each row of the table under the
// "## Packages" heading of doc: the first `code span` of the row's first
// cell. dups lists the packages that have more than one row.
func packageRows(doc string) (rows, dups []string) {
	in := false
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## Packages"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		_, rest, ok := strings.Cut(cell, "`")
		if !ok {
			continue // the header or the separator row
		}
		pkg, _, ok := strings.Cut(rest, "`")
		if !ok {
			continue
		}
		if slices.Contains(rows, pkg) {
			if !slices.Contains(dups, pkg) {
				dups = append(dups, pkg)
			}
			continue
		}
		rows = append(rows, pkg)
	}
	return rows, dups
}

func TestPackageRows(t *testing.T) {
	t.Parallel()
	doc := "# Title\n\n| `ignored` | not under Packages |\n\n## Packages\n\nText with `code`.\n\n" +
		"| package | what |\n|---|---|\n| `.` (root) | domain |\n| `internal/a` | a, not `b` |\n| `internal/a` | again |\n| no code | x |\n\n" +
		"## Decisions\n\n| `later` | not under Packages |\n"
	rows, dups := packageRows(doc)
	if want := []string{".", "internal/a"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
	if want := []string{"internal/a"}; !slices.Equal(dups, want) {
		t.Errorf("dups = %q, want %q", dups, want)
	}
}
