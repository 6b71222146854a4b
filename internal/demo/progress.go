package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ctkLine is one line of edgetrust-ctk run's per-case progress on stderr:
// "[ 12/180] SBI1003  <device>  passed   0.21s  <name>".
var ctkLine = regexp.MustCompile(`^\[\s*(\d+)/(\d+)\]\s+\S+\s+\S+\s+(passed|failed|skipped|error)\b`)

// ctkProgress turns the ctk's case lines into a short progress report: on
// a terminal one line redrawn in place, elsewhere (make demo | tee, CI) a
// line every tenth of the cases, so the longest step never looks hung. It
// keeps the last lines the ctk printed that were not case lines (a failed
// start explains itself there) and returns them when r ends.
func ctkProgress(r io.Reader, w io.Writer, tty bool, start time.Time) (other []string) {
	counts := map[string]int{}
	lastShown := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := ctkLine.FindStringSubmatch(sc.Text())
		if m == nil {
			if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "↳") {
				other = append(other, t)
				if len(other) > 20 {
					other = other[1:]
				}
			}
			continue
		}
		done, _ := strconv.Atoi(m[1])
		all, _ := strconv.Atoi(m[2])
		counts[m[3]]++
		line := fmt.Sprintf("      %d/%d cases, %s: %d passed, %d failed, %d skipped",
			done, all, time.Since(start).Round(time.Second), counts["passed"], counts["failed"]+counts["error"], counts["skipped"])
		switch {
		case tty:
			fmt.Fprintf(w, "\r%s\x1b[K", line)
		case all > 0 && (done-lastShown)*10 >= all || done == all:
			fmt.Fprintln(w, line)
			lastShown = done
		}
	}
	if tty && len(counts) > 0 {
		fmt.Fprintln(w)
	}
	return other
}

// isTerminal reports whether f is a character device (a terminal, not a
// pipe or a file).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
