// worker stands for a background worker: it logs that it started (with $WORKER, which its
// Procfile line exports), then sleeps until SIGTERM and exits 0.
package main

import (
	"log"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	log.Printf("worker started WORKER=%s", os.Getenv("WORKER"))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	log.Print("worker stopped")
}
