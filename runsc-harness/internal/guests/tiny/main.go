// Command tiny is the harness's own minimal guest: it prints a
// guestio.Report without exercising anything, or sleeps forever, so that
// the harness's plumbing (bundles, deadlines, cleanup, reports) can be
// tested without the real guests of syscalltests/.
//
// Flags:
//
//	-sleep         print a line on stderr, then sleep forever
//	-result R      the Observed.Result of every case (default "ok")
//	-eintr N       the "eintr" counter of every case (default 0)
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/restartsys/restartsys/syscalltests/guestio"
)

func main() {
	sleep := flag.Bool("sleep", false, "sleep forever")
	result := flag.String("result", "ok", "result of every case")
	eintr := flag.Int64("eintr", 0, "eintr counter of every case")
	flag.Parse()
	if *sleep {
		fmt.Println("tiny: going to sleep")
		fmt.Fprintln(os.Stderr, "tiny: sleeping forever")
		for {
			time.Sleep(time.Hour)
		}
	}
	rep := &guestio.Report{Program: "tiny"}
	for _, shape := range []string{"read/pipe", "open/fifo"} {
		for _, disp := range []string{"restart", "norestart"} {
			rep.Cases = append(rep.Cases, guestio.Case{
				Shape:       shape,
				Disposition: disp,
				Observed:    guestio.Observed{Result: *result, HandlerRan: disp != "ignore"},
				Counters:    map[string]int64{"eintr": *eintr, "wrong_bytes": 0, "rounds": 1},
			})
		}
	}
	if err := guestio.Write(os.Stdout, rep); err != nil {
		fmt.Fprintln(os.Stderr, "tiny:", err)
		os.Exit(1)
	}
}
