package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"dsrflow/internal/dsr"
)

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// CSVHeader is the CSV's first line: one column per refusal reason, in
// dsr.RefusalReasons order, so that the columns never move.
func CSVHeader() []string {
	h := []string{"month", "kind", "received", "complied_in_whole", "complied_in_part", "refused"}
	for _, r := range dsr.RefusalReasons() {
		h = append(h, "refused_"+string(r))
	}
	return append(h, "closed_otherwise", "open", "replied", "median_working_days", "p95_working_days", "estimated")
}

func csvRecord(l Line) []string {
	rec := []string{l.Month, l.Kind, strconv.Itoa(l.Received), strconv.Itoa(l.Whole), strconv.Itoa(l.Part), strconv.Itoa(l.Refused)}
	for _, r := range dsr.RefusalReasons() {
		rec = append(rec, strconv.Itoa(l.RefusedBy[r]))
	}
	med, p95 := "", ""
	if l.MedianDays != nil {
		med = strconv.FormatFloat(*l.MedianDays, 'f', -1, 64)
	}
	if l.P95Days != nil {
		p95 = strconv.Itoa(*l.P95Days)
	}
	return append(rec, strconv.Itoa(l.Closed), strconv.Itoa(l.Open), strconv.Itoa(l.Replied), med, p95, strconv.FormatBool(l.Estimated))
}

// WriteCSV writes the header, one record per line and the total (month
// "total", kind "all").
func WriteCSV(w io.Writer, rep Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	for _, l := range rep.Lines {
		if err := cw.Write(csvRecord(l)); err != nil {
			return err
		}
	}
	total := rep.Total
	total.Month = "total"
	if err := cw.Write(csvRecord(total)); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the report as an aligned table for a terminal;
// refusals by reason follow each line that has any.
func WriteText(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s to %s\n", rep.From, rep.To)
	fmt.Fprintln(tw, "MONTH\tKIND\tRECEIVED\tWHOLE\tPART\tREFUSED\tCLOSED\tOPEN\tMEDIAN WD\tP95 WD")
	lines := append(append([]Line(nil), rep.Lines...), rep.Total)
	lines[len(lines)-1].Month = "total"
	for _, l := range lines {
		med, p95 := "-", "-"
		if l.MedianDays != nil {
			med = strconv.FormatFloat(*l.MedianDays, 'f', -1, 64)
		}
		if l.P95Days != nil {
			p95 = strconv.Itoa(*l.P95Days)
		}
		if l.Estimated {
			p95 += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", l.Month, l.Kind, l.Received, l.Whole, l.Part, l.Refused, l.Closed, l.Open, med, p95)
		for _, r := range dsr.RefusalReasons() {
			if n := l.RefusedBy[r]; n > 0 {
				fmt.Fprintf(tw, "\t  refused %s\t\t\t\t%d\n", r, n)
			}
		}
	}
	if rep.Total.Estimated {
		fmt.Fprintln(tw, "* counted through a year without an official holiday schedule (Monday to Friday)")
	}
	return tw.Flush()
}
