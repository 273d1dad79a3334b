// Install smoke of the Go module (run by scripts/install_smoke.sh in a new module that got
// the package with `go get` from a module proxy): price, extract, track, margin; writes the
// line described in docs/DECISIONS.md (Packaging) to $TOLLGATE_SMOKE_OUT/go.json.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

func main() {
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	engine, err := tollgate.NewEngine(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	price, err := engine.PriceJSON([]byte(`{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}`))
	if err != nil {
		log.Fatal(err)
	}
	items, err := tollgate.ExtractUsage("anthropic", body, "")
	if err != nil {
		log.Fatal(err)
	}
	u := items[0]
	if _, err := engine.UpsertCustomerJSON([]byte(`{"customerId":"acme","timestamp":"2026-01-01T00:00:00Z",` +
		`"plan":{"pricingModel":"usage_based","unitRevenueCents":5}}`)); err != nil {
		log.Fatal(err)
	}
	tracked, err := engine.TrackResponse("anthropic", body,
		[]byte(`{"customerId":"acme","runId":"run-1","timestamp":"2026-01-10T00:00:00Z"}`), "")
	if err != nil {
		log.Fatal(err)
	}
	m, err := engine.CustomerMargin("acme")
	if err != nil {
		log.Fatal(err)
	}
	line, err := json.Marshal(struct {
		Price         string    `json:"price"`
		ExtractTokens [4]uint64 `json:"extractTokens"`
		TrackCost     string    `json:"trackCost"`
		TrackRevenue  string    `json:"trackRevenue"`
		Margin        string    `json:"margin"`
	}{price.CostCents, [4]uint64{u.TokensIn, u.CachedTokens, u.CacheWrite5mTokens, u.TokensOut},
		tracked[0].CostCents, tracked[0].RevenueCents, m.MarginCents.String()})
	if err != nil {
		log.Fatal(err)
	}
	line = append(line, '\n')
	if err := os.WriteFile(filepath.Join(os.Getenv("TOLLGATE_SMOKE_OUT"), "go.json"), line, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("go: %s", line)
}
