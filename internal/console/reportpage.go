package console

import (
	"net/http"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/report"
	"dsrflow/internal/workday"
)

// MaxReportDays bounds a report's period.
const MaxReportDays = 3 * 366

// reportView is the report page.
type reportView struct {
	From, To string
	Invalid  bool
	Report   *report.Report
}

// reportPeriod reads from and to (YYYY-MM-DD); empty means the current
// month up to today (China time).
func reportPeriod(now time.Time, from, to string) (workday.Date, workday.Date, bool) {
	today := workday.DateOf(now.In(workday.ChinaTime))
	f := workday.Date{Year: today.Year, Month: today.Month, Day: 1}
	t := today
	var err error
	if from != "" {
		if f, err = workday.ParseDate(from); err != nil {
			return f, t, false
		}
	}
	if to != "" {
		if t, err = workday.ParseDate(to); err != nil {
			return f, t, false
		}
	}
	if t.Before(f) || f.AddDays(MaxReportDays).Before(t) {
		return f, t, false
	}
	return f, t, true
}

func (h *Handler) getReport(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	q := r.URL.Query()
	from, to, ok := reportPeriod(h.now(), q.Get("from"), q.Get("to"))
	p := h.newPage(r, l, "report.title")
	v := &reportView{From: from.String(), To: to.String()}
	p.Report = v
	if !ok {
		v.Invalid = true
		v.From, v.To = q.Get("from"), q.Get("to")
		h.render(w, http.StatusBadRequest, p, reportMain(p))
		return
	}
	rows, err := report.Collect(r.Context(), h.store, from, to)
	if err != nil {
		h.fail(w, r, l, "", err)
		return
	}
	rep := report.Build(rows, from, to, h.cal)
	switch q.Get("format") {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="dsr-report-`+from.String()+`-`+to.String()+`.csv"`)
		if err := report.WriteCSV(w, rep); err != nil {
			h.logger.ErrorContext(r.Context(), "write report", "error", err.Error())
		}
		return
	case "json":
		w.Header().Set("Content-Type", "application/json")
		if err := report.WriteJSON(w, rep); err != nil {
			h.logger.ErrorContext(r.Context(), "write report", "error", err.Error())
		}
		return
	}
	v.Report = &rep
	h.render(w, http.StatusOK, p, reportMain(p))
}

// reportURL is the report in format (csv or json) for the same period.
func (p *page) reportURL(format string) string {
	return p.URL("/report?from=" + p.Report.From + "&to=" + p.Report.To + "&format=" + format)
}

// kindLabel is a report line's kind: a request kind or all.
func kindLabel(l dsr.Locale, k string) string {
	if k == report.KindAll {
		return text(l, "report.all")
	}
	return text(l, "kind."+k)
}
