// migrate stands for a release-phase migration: it appends a line with the time and its
// version to $STATE_DIRECTORY/migrations.log and exits 0, or exits 1 when FAIL_RELEASE=1.
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

var version = "dev"

func main() {
	if os.Getenv("FAIL_RELEASE") == "1" {
		log.Fatalf("migrate %s: FAIL_RELEASE=1, failing on purpose", version)
	}
	dir := os.Getenv("STATE_DIRECTORY")
	if dir == "" {
		dir = "."
	}
	f, err := os.OpenFile(filepath.Join(dir, "migrations.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), version); err != nil {
		log.Fatal(err)
	}
	log.Printf("migrate %s: done", version)
}
