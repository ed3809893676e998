// worker stands for a queue worker: it logs its queue and waits for SIGTERM.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	queue := flag.String("queue", "default", "the queue to work on")
	flag.Parse()
	log.Printf("worker %s working on queue %q", version, *queue)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	log.Printf("worker: stopping")
}
