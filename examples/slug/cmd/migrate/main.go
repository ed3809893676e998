// migrate is the release phase: `migrate -path migrations up` applies the files
// migrations/NNNN_name.sql (relative to the working directory, the slug) in order to the
// sqlite database $STATE_DIRECTORY/app.db, records each in schema_migrations, and skips
// those already there. It then lists what is applied into $STATE_DIRECTORY/migrations.txt
// for the web's /migrations page. It uses mattn/go-sqlite3, so it needs cgo.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	log.SetFlags(0)
	path := flag.String("path", "migrations", "the directory of the migration files")
	flag.Parse()
	if flag.NArg() != 1 || flag.Arg(0) != "up" {
		fmt.Fprintln(os.Stderr, "usage: migrate -path DIR up")
		os.Exit(2)
	}
	dir := os.Getenv("STATE_DIRECTORY")
	if dir == "" {
		log.Fatal("migrate: STATE_DIRECTORY is not set")
	}
	files, err := filepath.Glob(filepath.Join(*path, "*.sql"))
	if err != nil {
		log.Fatal(err)
	}
	if len(files) == 0 {
		log.Fatalf("migrate: no migrations in %s", *path)
	}
	sort.Strings(files)

	db, err := sql.Open("sqlite3", filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var sqliteVersion string
	if err := db.QueryRow(`SELECT sqlite_version()`).Scan(&sqliteVersion); err != nil {
		log.Fatalf("migrate: %v", err)
	}
	log.Printf("migrate: sqlite %s, %s", sqliteVersion, filepath.Join(dir, "app.db"))
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		log.Fatalf("migrate: %v", err)
	}

	applied := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			log.Fatalf("migrate: %s: the name must start with a number", file)
		}
		done, err := apply(db, file, version, name)
		if err != nil {
			log.Fatalf("migrate: %s: %v", file, err)
		}
		if done {
			log.Printf("migrate: applied %s", name)
			applied++
		}
	}
	if applied == 0 {
		log.Print("migrate: no change")
	}
	if err := writeList(db, filepath.Join(dir, "migrations.txt")); err != nil {
		log.Fatalf("migrate: %v", err)
	}
}

// apply runs one migration and records it in one transaction, unless it is recorded already.
func apply(db *sql.DB, file string, version int, name string) (bool, error) {
	tx, err := db.Begin()
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(string(body)); err != nil {
		return false, err
	}
	if _, err := tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))`, version, name); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// writeList writes the applied migrations' names, one a line, read back from the database.
func writeList(db *sql.DB, path string) error {
	rows, err := db.Query(`SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		b.WriteString(name + "\n")
	}
	if err := rows.Err(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
