package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ReportRow is one group of a report (also its totals): the id columns grouped by (nil where
// the money has no value, e.g. the model of subscription revenue), amounts as exact decimal
// strings of cents, percentages as decimal strings (nil when undefined), counts.
type ReportRow struct {
	CustomerID               *string `json:"customerId"`
	RunID                    *string `json:"runId"`
	AgentID                  *string `json:"agentId"`
	Model                    *string `json:"model"`
	Provider                 *string `json:"provider"`
	Day                      *string `json:"day"`
	Week                     *string `json:"week"`
	Month                    *string `json:"month"`
	RevenueCents             string  `json:"revenueCents"`
	CostCents                string  `json:"costCents"`
	MarginCents              string  `json:"marginCents"`
	MarginPct                *string `json:"marginPct"`
	Events                   uint64  `json:"events"`
	UnpricedEvents           uint64  `json:"unpricedEvents"`
	UsageRevenueCents        string  `json:"usageRevenueCents"`
	OutcomeRevenueCents      string  `json:"outcomeRevenueCents"`
	SubscriptionRevenueCents string  `json:"subscriptionRevenueCents"`
	CostPerResolvedRunCents  *string `json:"costPerResolvedRunCents"`
	RevenuePerEventCents     *string `json:"revenuePerEventCents"`
	CostSharePct             *string `json:"costSharePct"`
	CacheSavingsCents        string  `json:"cacheSavingsCents"`
	RunsOpen                 uint64  `json:"runsOpen"`
	RunsResolved             uint64  `json:"runsResolved"`
	RunsEscalated            uint64  `json:"runsEscalated"`
	RunsFailed               uint64  `json:"runsFailed"`
	TokensIn                 uint64  `json:"tokensIn"`
	CachedTokens             uint64  `json:"cachedTokens"`
	CacheWrite5mTokens       uint64  `json:"cacheWrite5mTokens"`
	CacheWrite1hTokens       uint64  `json:"cacheWrite1hTokens"`
	TokensOut                uint64  `json:"tokensOut"`
	ReasoningTokens          uint64  `json:"reasoningTokens"`
}

// Report is the answer to a report query.
type Report struct {
	// Query is the query answered, as JSON.
	Query  json.RawMessage `json:"query"`
	Totals ReportRow       `json:"totals"`
	Rows   []ReportRow     `json:"rows"`
	// Groups counts the rows before "top" cut them.
	Groups   int `json:"groups"`
	Unpriced []struct {
		Provider *string `json:"provider"`
		Model    *string `json:"model"`
		Events   uint64  `json:"events"`
	} `json:"unpriced"`
	Breaches []struct {
		CustomerID string `json:"customerId"`
		PolicyID   string `json:"policyId"`
		Period     string `json:"period"`
		Rule       string `json:"rule"`
		Detail     string `json:"detail"`
	} `json:"breaches"`
	Window struct {
		From                *string `json:"from"`
		To                  *string `json:"to"`
		SubscriptionThrough *string `json:"subscriptionThrough"`
	} `json:"window"`
}

func (e *Engine) report(query []byte, format C.uint32_t) ([]byte, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		qp, qn := bytesPtr(query)
		var err error
		out, err = callBuffered(16384, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_report_query(p, qp, qn, format, o, cap, n, cerr)
		})
		return err
	})
	return out, err
}

// Report answers a report query, computed by the engine like `tollgate report`: a JSON object
// of optional filters (customerId, runId, agentId, model, provider, outcome, from, to),
// groupBy (customer, run, agent, model, provider, day, week, month), sort ("margin:asc", …)
// and top (nil: the totals of everything). Rows carry the derived figures: cost per resolved
// run, revenue per event, share of cost and cache savings.
func (e *Engine) Report(query []byte) (*Report, error) {
	out, err := e.report(query, C.TG_REPORT_JSON)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding the report: %w", err)
	}
	return &r, nil
}

// ReportCSV answers a report query with its rows as CSV (RFC 4180: header row, quoting, CRLF
// line ends; amounts as exact decimal strings).
func (e *Engine) ReportCSV(query []byte) ([]byte, error) {
	return e.report(query, C.TG_REPORT_CSV)
}

// ReportJSONL answers a report query with its rows as JSON Lines.
func (e *Engine) ReportJSONL(query []byte) ([]ReportRow, error) {
	out, err := e.report(query, C.TG_REPORT_JSONL)
	if err != nil {
		return nil, err
	}
	var rows []ReportRow
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r ReportRow
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("tollgate: decoding a report row: %w", err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
