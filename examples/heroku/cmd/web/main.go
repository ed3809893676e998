// web serves "/" with the Go version and the commit it was built from, /healthz, and
// /migrations: the log the release phase (cmd/migrate) appends to, so a test can count runs.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// version is set at build time (GO_LINKER_SYMBOL=main.version, GO_LINKER_VALUE).
var version = "dev"

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5000"
	}
	// How many release phases had run when this process started: the release phase runs
	// before the new web starts, so a test can see the order.
	migrationsAtStart := countLines(filepath.Join(os.Getenv("STATE_DIRECTORY"), "migrations.log"))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "herokuapp web %s %s\n", runtime.Version(), version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/boot", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "migrations at start: %d\n", migrationsAtStart)
	})
	mux.HandleFunc("/migrations", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(os.Getenv("STATE_DIRECTORY"), "migrations.log"))
		if err != nil && !os.IsNotExist(err) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	log.Printf("web %s listening on 127.0.0.1:%s", version, port)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}
