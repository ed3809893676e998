// Command hello is the example app that qdeploy deploys: a small web server, a
// worker and a scheduled job in one binary, chosen by the first argument.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const (
	maxSlow  = 60 * time.Second // cap for GET /slow
	maxDrain = 60 * time.Second // how long SIGTERM waits for in-flight requests
	tickRate = 5 * time.Second  // worker heartbeat
)

const usage = `usage: hello <command>

commands:
  serve     HTTP on 127.0.0.1:$PORT (GET /, /healthz, /version, /slow?ms=N)
  work      a worker that logs a tick every 5s
  cleanup   a scheduled job: logs once and exits
  version   prints the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "work":
		err = work()
	case "cleanup":
		fmt.Printf("cleanup ran at %s\n", time.Now().Format(time.RFC3339))
	case "version", "--version", "-v":
		fmt.Println(version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "hello: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		os.Exit(1)
	}
}

// serve runs the web process until SIGTERM or SIGINT, then drains.
func serve() error {
	// A release that cannot start, for testing that a failed start never takes traffic.
	if os.Getenv("HELLO_CRASH") == "1" {
		return errors.New("HELLO_CRASH=1: refusing to start")
	}
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("PORT is not set: the web process needs the port to listen on (e.g. PORT=8080 hello serve)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("PORT=%q is not a port number (1-65535)", port)
	}

	// Loopback only: Caddy in front is the one public listener.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: routes(), ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on 127.0.0.1:%s version=%s\n", port, version)

	select {
	case err := <-served:
		return err
	case sig := <-stop:
		fmt.Printf("draining (%s)\n", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxDrain)
	defer cancel()
	// Shutdown closes the listener at once, then waits for in-flight requests.
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	fmt.Println("stopped")
	return nil
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		msg := "hello from " + version
		if m := os.Getenv("APP_MESSAGE"); m != "" {
			msg += " (" + m + ")"
		}
		fmt.Fprintln(w, msg)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// A release that fails its health check, for testing that it never goes live.
		if os.Getenv("HELLO_FAIL_HEALTH") == "1" {
			http.Error(w, "unhealthy (HELLO_FAIL_HEALTH=1)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a number of milliseconds", http.StatusBadRequest)
			return
		}
		d := min(time.Duration(ms)*time.Millisecond, maxSlow)
		// Not cancelled by the request context on purpose: a drain test wants the
		// request to finish even while the server shuts down.
		time.Sleep(d)
		fmt.Fprintf(w, "slept %dms\n", d.Milliseconds())
	})
	return mux
}

// work is the worker process: a heartbeat until SIGTERM or SIGINT.
func work() error {
	instance := os.Getenv("QDEPLOY_INSTANCE")
	if instance == "" {
		instance = "0"
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("worker %s started version=%s\n", instance, version)
	// For trying [resources]: a worker that holds this much memory (every page touched, so
	// it counts), to be killed over its limit while the other processes keep serving.
	if mb, _ := strconv.Atoi(os.Getenv("HELLO_WORKER_HOLD_MB")); mb > 0 {
		hold := make([]byte, mb<<20)
		for i := 0; i < len(hold); i += 4096 {
			hold[i] = 1
		}
		fmt.Printf("worker %s holds %d MB\n", instance, mb)
		defer runtime.KeepAlive(hold)
	}

	t := time.NewTicker(tickRate)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fmt.Printf("worker %s tick\n", instance)
		case sig := <-stop:
			fmt.Printf("worker %s stopping (%s)\n", instance, sig)
			return nil
		}
	}
}
