package tollgate_test

import (
	"fmt"
	"log"
	"time"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

// The README's Go snippet is the marked region below; `go test` checks its output.
func Example() {
	// readme:start
	engine, err := tollgate.NewEngine(nil) // embedded rate card; checks the ABI version at init
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	// JSON in, typed result out: amounts are exact decimal strings of cents.
	r, err := engine.PriceJSON([]byte(`{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.CostCents, *r.Model, r.Source)

	// The fast path: one cgo call for many items, zero allocations with a reused Batch.
	items := []tollgate.PriceItem{
		{Provider: "openai", Model: "gpt-4o", Usage: tollgate.Usage{TokensIn: 1000}},
		{Provider: "openai", Model: "gpt-4o", Usage: tollgate.Usage{TokensIn: 1000, ServiceTier: tollgate.TierBatch}},
	}
	out := make([]tollgate.PriceOut, len(items))
	if err := engine.PriceBatchInto(tollgate.NewBatch(), items, out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0].CostCents, out[1].CostCents)

	// Usage read off a raw provider response: no SDK counts tokens.
	body := []byte(`{"id":"msg_1","type":"message","model":"claude-sonnet-4-5-20250929",` +
		`"usage":{"input_tokens":3,"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,"output_tokens":33}}`)
	usage, err := tollgate.ExtractUsage("anthropic", body, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(usage[0].Model, usage[0].TokensIn, usage[0].CachedTokens, usage[0].CacheWrite5mTokens, usage[0].TokensOut)

	// The ledger: a customer on a usage-based plan; one call from the raw response to the
	// ledger (extract, price, ingest exactly once); the customer's live margin in O(1).
	five, _ := tollgate.ParseCents("5")
	if _, err := engine.UpsertCustomer(tollgate.Customer{CustomerID: "acme", Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Plan: &tollgate.Plan{PricingModel: tollgate.UsageBased, UnitRevenueCents: &five}}); err != nil {
		log.Fatal(err)
	}
	tracked, err := engine.TrackResponse("anthropic", body,
		[]byte(`{"customerId":"acme","runId":"run-1","timestamp":"2026-01-10T00:00:00Z"}`), "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tracked[0].Status, tracked[0].CostCents, tracked[0].RevenueCents)
	m, err := engine.CustomerMargin("acme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("acme margin", m.MarginCents, "cents")
	// readme:end

	// Output:
	// 0.75 gpt-4o ratecard
	// 0.25 0.125
	// claude-sonnet-4-5-20250929 3 1111 418 33
	// accepted 0.24048 5
	// acme margin 4.75952 cents
}
