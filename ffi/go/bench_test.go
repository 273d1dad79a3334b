package tollgate

import "testing"

// go test -bench . -benchtime 2s -run '^$'

var benchEvent = []byte(`{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}`)

func benchItem() PriceItem {
	return PriceItem{Provider: "openai", Model: "gpt-4o", Usage: Usage{TokensIn: 1200, CachedTokens: 800, TokensOut: 350}}
}

// One event per call through the JSON path.
func BenchmarkPriceJSON(b *testing.B) {
	e := newEngine(b)
	for i := 0; i < b.N; i++ {
		if _, err := e.PriceJSON(benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// One event per call through the struct path (batch of 1, buffers reused).
func BenchmarkPriceStructPerCall(b *testing.B) {
	e := newEngine(b)
	batch := NewBatch()
	items := []PriceItem{benchItem()}
	out := make([]PriceOut, 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := e.PriceBatchInto(batch, items, out); err != nil {
			b.Fatal(err)
		}
	}
}

// 1,000 events per call; reported per item.
func BenchmarkPriceBatch1000(b *testing.B) {
	e := newEngine(b)
	batch := NewBatch()
	items := make([]PriceItem, 1000)
	for i := range items {
		items[i] = benchItem()
		items[i].TokensIn = uint64(i)
	}
	out := make([]PriceOut, len(items))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.PriceBatchInto(batch, items, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/item")
}
