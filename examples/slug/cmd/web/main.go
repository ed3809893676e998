// web is shaped like Heroku's Go sample apps: it reads templates/*.tmpl.html at start and
// serves ./static and ./public, all relative to its working directory (the slug), and panics
// when the templates are not there, as gin's LoadHTMLGlob does.
package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("$PORT must be set")
	}
	// Panics with "html/template: pattern matches no files" when run outside the slug.
	tmpl := template.Must(template.ParseGlob("templates/*.tmpl.html"))

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		data := struct{ Greeting, GoVersion string }{os.Getenv("GREETING"), runtime.Version()}
		if err := tmpl.ExecuteTemplate(w, "index.tmpl.html", data); err != nil {
			log.Printf("render index: %v", err)
		}
	})
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir("static"))))
	mux.Handle("/public/", http.StripPrefix("/public/", http.FileServer(http.Dir("public"))))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/write", handleWrite)
	mux.HandleFunc("/state", handleState)
	mux.HandleFunc("/migrations", handleMigrations)
	mux.HandleFunc("/env", handleEnv)
	mux.HandleFunc("/slow", handleSlow)

	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	log.Printf("listening on :%s", port)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	log.Print("draining")
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatalf("drain: %v", err)
	}
	log.Print("drained")
}

// handleWrite tries to write a file in the working directory and answers "ok" or the error:
// on the server the slug is read-only.
func handleWrite(w http.ResponseWriter, r *http.Request) {
	if err := os.WriteFile("written.txt", []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

var stateMu sync.Mutex

// handleState counts its own requests in $STATE_DIRECTORY/counter, which outlives releases.
func handleState(w http.ResponseWriter, r *http.Request) {
	dir := os.Getenv("STATE_DIRECTORY")
	if dir == "" {
		http.Error(w, "STATE_DIRECTORY is not set", http.StatusInternalServerError)
		return
	}
	stateMu.Lock()
	defer stateMu.Unlock()
	path := filepath.Join(dir, "counter")
	n := 0
	if b, err := os.ReadFile(path); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else if !os.IsNotExist(err) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n++
	// Write then rename, so a crash never leaves a half-written counter.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "counter %d\n", n)
}

// handleMigrations shows the migrations the release phase (cmd/migrate) has applied: it
// lists them from its sqlite database into $STATE_DIRECTORY/migrations.txt, so this program
// needs no database driver (and no cgo).
func handleMigrations(w http.ResponseWriter, r *http.Request) {
	dir := os.Getenv("STATE_DIRECTORY")
	if dir == "" {
		http.Error(w, "STATE_DIRECTORY is not set", http.StatusInternalServerError)
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "migrations.txt"))
	if os.IsNotExist(err) {
		fmt.Fprintln(w, "no migrations applied")
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

// handleEnv shows the variables the Procfile line and the platform set, never a secret's
// value: SESSION_SECRET is only said to be set or not.
func handleEnv(w http.ResponseWriter, r *http.Request) {
	wd, err := os.Getwd()
	if err != nil {
		wd = err.Error()
	}
	fmt.Fprintf(w, "cwd=%s\n", wd)
	for _, name := range []string{"PORT", "WEB_SERVER_PORT", "WORKER", "GREETING", "HOME", "PATH"} {
		fmt.Fprintf(w, "%s=%s\n", name, os.Getenv(name))
	}
	_, set := os.LookupEnv("SESSION_SECRET")
	fmt.Fprintf(w, "SESSION_SECRET set=%t\n", set)
}

// handleSlow answers after ?ms= milliseconds (default 2000, at most 20000): a request in
// flight while the process is stopped shows the drain.
func handleSlow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		ms = 2000
	}
	ms = min(ms, 20000)
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Fprintf(w, "slow %dms done\n", ms)
}
