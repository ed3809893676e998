// notes: `notes migrate` (the release phase) applies migrations/NNNN_name.sql in order to
// $DATABASE_URL, recording each in schema_migrations; `notes serve` keeps notes in Postgres
// and counts visits in Redis ($REDIS_URL), on $PORT.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	_ "github.com/lib/pq"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) != 2 {
		log.Fatal("usage: notes migrate|serve")
	}
	db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatalf("notes: DATABASE_URL: %v", err)
	}
	defer db.Close()
	// A small pool that stays open: each Postgres connection is a process there, and a new
	// one costs a TLS handshake and SCRAM's hashing.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	switch os.Args[1] {
	case "migrate":
		if err := migrate(db, "migrations"); err != nil {
			log.Fatalf("migrate: %v", err)
		}
	case "serve":
		serve(db)
	default:
		log.Fatalf("notes: unknown command %q", os.Args[1])
	}
}

func migrate(db *sql.DB, dir string) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no migrations in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		version := strings.TrimSuffix(filepath.Base(f), ".sql")
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %v", version, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		log.Printf("migrate: applied %s", version)
	}
	return nil
}

func serve(db *sql.DB) {
	pool := &redis.Pool{
		MaxIdle:     4,
		IdleTimeout: time.Minute,
		// A rediss:// URL (Redis on another host) has a self-signed certificate, as Heroku
		// Redis's does: encrypted, not verified.
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(os.Getenv("REDIS_URL"), redis.DialTLSSkipVerify(true))
		},
		// A connection that sat idle is checked before it is used: Redis may have restarted
		// meanwhile (a restore, an upgrade, a reboot), and its first command would fail.
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < time.Second {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		c := pool.Get()
		defer c.Close()
		if _, err := c.Do("PING"); err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		// A deadline of its own, not the request's: the switch's probe gives up after 5 s, and
		// lib/pq closes a connection whose query was cancelled, so on a slow host every late
		// check would cost a new connection (TLS and SCRAM), making the next one later still.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			http.Error(w, "postgres: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/notes", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a body", http.StatusMethodNotAllowed)
			return
		}
		var id int
		if err := db.QueryRow(`INSERT INTO notes (body) VALUES ($1) RETURNING id`, r.FormValue("body")).Scan(&id); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "note %d\n", id)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c := pool.Get()
		defer c.Close()
		visits, err := redis.Int(c.Do("INCR", "visits"))
		if err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusInternalServerError)
			return
		}
		rows, err := db.Query(`SELECT id, author, body FROM notes ORDER BY id`)
		if err != nil {
			http.Error(w, "postgres: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer rows.Close()
		fmt.Fprintf(w, "visits %d\n", visits)
		for rows.Next() {
			var id int
			var author, body string
			if err := rows.Scan(&id, &author, &body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "%d %s: %s\n", id, author, body)
		}
	})
	// Connected before it listens, as most apps are: the health checks then find a
	// connection in the pool, and a database that is not there fails the start, not a check.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := db.PingContext(ctx)
	cancel()
	if err != nil {
		log.Fatalf("notes: postgres: %v", err)
	}
	port := os.Getenv("PORT")
	log.Printf("notes: listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
