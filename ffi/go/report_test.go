package tollgate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func str(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// The same hand-computed figures as the C suite, through the Go binding.
func TestReportQueries(t *testing.T) {
	e := acme(t)
	r, err := e.Report([]byte(`{"groupBy":["model"],"sort":"cost"}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range r.Rows {
		got = append(got, str(row.Model)+"="+row.CacheSavingsCents+"/"+str(row.CostSharePct))
	}
	// gpt-4o: 800 cached tokens at 2.5e-6 instead of 1.25e-6 USD saved 0.1 cents, 0.75 / 0.99048
	// = 75.7209… % of the cost; claude: 1111 cache reads at 3e-6 instead of 3e-7 USD saved
	// 0.29997 cents, 24.2791… %.
	if fmt.Sprint(got) != "[gpt-4o=0.1/75.72 claude-sonnet-4-5-20250929=0.29997/24.28 null=0/0.00]" {
		t.Fatalf("rows %v", got)
	}
	// One resolved run (r1) for 0.99048; revenue 10 over 2 events.
	if str(r.Totals.CostPerResolvedRunCents) != "0.99048" || str(r.Totals.RevenuePerEventCents) != "5" || r.Groups != 3 {
		t.Fatalf("totals %+v", r.Totals)
	}
	top, err := e.Report([]byte(`{"groupBy":["model"],"sort":"cost:asc","top":1}`))
	if err != nil || len(top.Rows) != 1 || top.Rows[0].Model != nil || top.Groups != 3 {
		t.Fatalf("%v %+v", err, top)
	}
	text, err := e.ReportCSV([]byte(`{"groupBy":["agent"],"outcome":"resolved"}`))
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(strings.NewReader(string(text))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// a1: revenue 5, cost 0.75, 85.00 %; no agent (the tracked response): 5, 0.24048, 95.19 %.
	if len(records) != 3 || fmt.Sprint(records[1][:5]) != "[a1 5 0.75 4.25 85.00]" ||
		fmt.Sprint(records[2][:5]) != "[ 5 0.24048 4.75952 95.19]" {
		t.Fatalf("%q", records)
	}
	rows, err := e.ReportJSONL([]byte(`{"groupBy":["customer"]}`))
	if err != nil || len(rows) != 1 || str(rows[0].CustomerID) != "acme" {
		t.Fatalf("%v %+v", err, rows)
	}
	for _, bad := range []string{`{"groupBy":["planet"]}`, `{"sort":"price"}`, `{"top":0}`, `{"costumerId":"acme"}`} {
		if _, err := e.Report([]byte(bad)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
