package busbench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteBusTable writes the wire-limit ratios of results as a markdown
// table, esep's master and mbpoll side by side.
func WriteBusTable(w io.Writer, results []BusResult) {
	fmt.Fprintln(w, "### Wire-limit ratio, apartment meters polled in turn")
	fmt.Fprintln(w, "| baud | turnaround | units × cycles | wire per cycle | esep per cycle "+
		"| esep ratio | sim − computed wire | esep t3.5 violations | mbpoll per cycle "+
		"| mbpoll ratio | mbpoll ratio, t3.5 not credited | mbpoll t3.5 violations "+
		"| esep / mbpoll |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		s, e := r.Setup, r.Esep
		cells := []string{fmt.Sprint(s.Baud), ms(s.Turnaround),
			fmt.Sprintf("%d × %d", s.Units, s.Cycles), ms(r.CycleWire), ms(e.PerCycle()),
			ratio(e), (e.SimWire - e.Wire).String(), violations(e)}
		if m := r.Mbpoll; m != nil {
			cells = append(cells, ms(m.PerCycle()), ratio(*m),
				fmt.Sprintf("%.3f", m.BusyRatio()), violations(*m),
				fmt.Sprintf("%.2f", e.Ratio()/m.Ratio()))
		} else {
			cells = append(cells, "not run", "", "", "", "")
		}
		row(w, cells...)
	}
}

// WriteSilentTable writes what one dead unit costs each cycle.
func WriteSilentTable(w io.Writer, results []BusResult) {
	fmt.Fprintln(w, "### One silent unit among the apartment meters, esep's master, "+
		"guard at its default (the timeout)")
	fmt.Fprintln(w, "| baud | turnaround | timeout | all answer, per cycle "+
		"| one silent, per cycle | extra per cycle | extra in timeouts |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range results {
		if r.Silent == nil {
			continue
		}
		s := r.Setup
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %.2f |\n", s.Baud, ms(s.Turnaround),
			ms(s.Timeout), ms(r.Esep.PerCycle()), ms(r.Silent.PerCycle()),
			ms(r.Silent.PerCycle()-r.Esep.PerCycle()), r.SilentCost())
	}
}

// PlanResult holds the plan runs of one profile at one wire.
type PlanResult struct {
	Wire
	Profile string
	Runs    []PlanRun
}

// WritePlanTable writes the useful registers per second of each plan,
// against the best block plan.
func WritePlanTable(w io.Writer, results []PlanResult) {
	fmt.Fprintln(w, "### Useful registers per second, one meter, by plan")
	fmt.Fprintln(w, "| profile | baud | turnaround | plan | requests | registers read "+
		"| useful | cycles | per cycle | wire ratio | useful registers/s | vs best |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, res := range results {
		best := res.find("best").UsefulPerSecond()
		for _, p := range res.Runs {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %d | %d | %d | %s | %s | %.0f | %.2f |\n",
				res.Profile, res.Baud, ms(res.Turnaround), p.Name, len(p.Cycle), p.Registers,
				p.Useful, p.Cycles, ms(p.PerCycle()), ratio(p.Run), p.UsefulPerSecond(),
				p.UsefulPerSecond()/best)
		}
	}
}

// find returns the run of the plan called name, or a zero PlanRun.
func (r PlanResult) find(name string) PlanRun {
	for _, p := range r.Runs {
		if p.Name == name {
			return p
		}
	}
	return PlanRun{}
}

// BusReports returns the REPORT lines of results: per baud rate, the
// wire-limit ratio of esep's master at the worse turnaround, mbpoll's
// beside it, and the cost of a silent unit at the worse turnaround.
func BusReports(results []BusResult) []string {
	var lines []string
	for _, baud := range bauds(results) {
		at := atBaud(results, baud)
		worst := slices.MinFunc(at, func(a, b BusResult) int {
			return cmp.Compare(a.Esep.Ratio(), b.Esep.Ratio())
		})
		lines = append(lines, fmt.Sprintf("wire-limit ratio at %d baud: %.2f", baud,
			worst.Esep.Ratio()))
	}
	for _, baud := range bauds(results) {
		if l := mbpollReport(atBaud(results, baud)); l != "" {
			lines = append(lines, l)
		}
	}
	for _, baud := range bauds(results) {
		if l := silentReport(atBaud(results, baud)); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// mbpollReport names mbpoll's worse ratio at one baud rate.
func mbpollReport(at []BusResult) string {
	at = slices.DeleteFunc(slices.Clone(at), func(r BusResult) bool { return r.Mbpoll == nil })
	if len(at) == 0 {
		return ""
	}
	w := slices.MinFunc(at, func(a, b BusResult) int {
		return cmp.Compare(a.Mbpoll.Ratio(), b.Mbpoll.Ratio())
	})
	m := w.Mbpoll
	line := fmt.Sprintf("mbpoll wire-limit ratio at %d baud: %.2f (esep %.2f, esep/mbpoll %.2f, "+
		"at %s turnaround; mbpoll skipped t3.5 before %d of %d requests, %.2f without "+
		"crediting it", w.Setup.Baud, m.Ratio(), w.Esep.Ratio(), w.Esep.Ratio()/m.Ratio(),
		ms(w.Setup.Turnaround), m.Violations, m.Requests, m.BusyRatio())
	if m.Collisions > 0 {
		line += fmt.Sprintf("; %d collided with a reply and went unanswered", m.Collisions)
	}
	return line + ")"
}

// silentReport names the worse cost of a silent unit at one baud rate.
func silentReport(at []BusResult) string {
	at = slices.DeleteFunc(slices.Clone(at), func(r BusResult) bool { return r.Silent == nil })
	if len(at) == 0 {
		return ""
	}
	w := slices.MaxFunc(at, func(a, b BusResult) int {
		return cmp.Compare(a.SilentCost(), b.SilentCost())
	})
	return fmt.Sprintf("silent unit among %d at %d baud: %.2f response timeouts extra per cycle "+
		"(at %s turnaround, %s timeout)", w.Setup.Units, w.Setup.Baud, w.SilentCost(),
		ms(w.Setup.Turnaround), ms(w.Setup.Timeout))
}

// PlanReports returns a REPORT line per plan result: the planner's useful
// registers per second against the best block plan's, and the naive's.
func PlanReports(results []PlanResult) []string {
	var lines []string
	for _, r := range results {
		best := r.find("best").UsefulPerSecond()
		lines = append(lines, fmt.Sprintf("%s planner vs best block plan at %d baud: %.2f of "+
			"the useful registers per second (one request per value: %.2f)", r.Profile, r.Baud,
			r.find("planner").UsefulPerSecond()/best, r.find("naive").UsefulPerSecond()/best))
	}
	return lines
}

func bauds(results []BusResult) []int {
	var out []int
	for _, r := range results {
		if !slices.Contains(out, r.Setup.Baud) {
			out = append(out, r.Setup.Baud)
		}
	}
	return out
}

func atBaud(results []BusResult, baud int) []BusResult {
	var out []BusResult
	for _, r := range results {
		if r.Setup.Baud == baud {
			out = append(out, r)
		}
	}
	return out
}

// row writes cells as a row of a markdown table.
func row(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func ratio(r Run) string { return fmt.Sprintf("%.3f", r.Ratio()) }

// violations tells how many requests broke t3.5, and how many of those
// came so soon that they collided with a reply and went unanswered.
func violations(r Run) string {
	v := fmt.Sprintf("%d of %d", r.Violations, r.Requests)
	if r.Collisions > 0 {
		v += fmt.Sprintf(", %d collided", r.Collisions)
	}
	return v
}
