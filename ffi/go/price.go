package tollgate

/*
// The hot calls never call back into Go and keep no pointer: say so, so cgo skips its
// callback bookkeeping and Go keeps the caller's buffers on the stack.
#cgo noescape tg_price_batch
#cgo nocallback tg_price_batch
#cgo noescape tg_snapshot_price_batch
#cgo nocallback tg_snapshot_price_batch
#cgo noescape tg_price_json
#cgo nocallback tg_price_json
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PriceResult is the JSON price result (the shape of `tollgate price`); CostCents is an
// exact decimal string of cents.
type PriceResult struct {
	CostCents string   `json:"costCents"`
	Priced    bool     `json:"priced"`
	Model     *string  `json:"model"`
	Snapshot  string   `json:"snapshot"`
	Reason    *string  `json:"reason"`
	Source    string   `json:"source"`
	Match     *string  `json:"match"`
	Warnings  []string `json:"warnings"`
	// WebSearchCents is the part of CostCents that is web searches (WebSearchRequests × the
	// model's per-search price); "0" without searches.
	WebSearchCents string `json:"webSearchCents"`
}

// PriceJSON prices one event record (docs/reference/events.md (event record) JSON) and returns the result. Nothing in the
// engine changes.
func (e *Engine) PriceJSON(event []byte) (*PriceResult, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		ev, evLen := bytesPtr(event)
		var err error
		out, err = callBuffered(512, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_price_json(p, ev, evLen, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodePrice(out)
}

func decodePrice(out []byte) (*PriceResult, error) {
	var r PriceResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding price result: %w", err)
	}
	return &r, nil
}

// Kind of a priced step.
type Kind uint32

// Kinds of steps.
const (
	KindLLM       Kind = C.TG_KIND_LLM
	KindTool      Kind = C.TG_KIND_TOOL
	KindRetrieval Kind = C.TG_KIND_RETRIEVAL
)

// Tier is the service tier the provider served.
type Tier uint32

// Service tiers.
const (
	TierStandard  Tier = C.TG_TIER_STANDARD
	TierFlex      Tier = C.TG_TIER_FLEX
	TierPriority  Tier = C.TG_TIER_PRIORITY
	TierBatch     Tier = C.TG_TIER_BATCH
	TierBalanced  Tier = C.TG_TIER_BALANCED
	TierUltrafast Tier = C.TG_TIER_ULTRAFAST
)

var (
	kindNames = [...]string{"llm", "tool", "retrieval"}
	tierNames = [...]string{"standard", "flex", "priority", "batch", "balanced", "ultrafast"}
)

// String is the wire name of the kind ("llm", "tool", "retrieval").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint32(k))
}

// String is the wire name of the tier ("standard", "batch", …).
func (t Tier) String() string {
	if int(t) < len(tierNames) {
		return tierNames[t]
	}
	return fmt.Sprintf("Tier(%d)", uint32(t))
}

// ParseTier maps a wire tier name ("priority", "fast", "batch", …) to a Tier.
func ParseTier(name string) (Tier, bool) {
	switch strings.ToLower(name) {
	case "", "default", "standard", "auto":
		return TierStandard, true
	case "flex":
		return TierFlex, true
	case "priority", "fast":
		return TierPriority, true
	case "batch":
		return TierBatch, true
	case "balanced":
		return TierBalanced, true
	case "ultrafast":
		return TierUltrafast, true
	}
	return 0, false
}

// Usage is the normalized usage record (docs/reference/events.md (usage)).
type Usage struct {
	TokensIn           uint64
	CachedTokens       uint64
	CacheWrite5mTokens uint64
	CacheWrite1hTokens uint64
	AudioTokensIn      uint64
	ImageTokensIn      uint64
	TokensOut          uint64
	ReasoningTokens    uint64
	AudioTokensOut     uint64
	ImageTokensOut     uint64
	WebSearchRequests  uint64
	ToolCalls          uint64
	ServiceTier        Tier
	InferenceGeo       string
	Speed              string
}

// PriceItem is one usage to price with PriceBatch.
type PriceItem struct {
	Kind     Kind
	Provider string
	Model    string
	Usage
	// Timestamp selects the rate-card snapshot in force (millisecond precision); zero = now.
	Timestamp time.Time
	// ProviderCostCents, when set, is used verbatim instead of the rate card.
	ProviderCostCents *Cents
	// ExternalCostCents, when set, is added to the cost.
	ExternalCostCents *Cents
}

// PriceOut is the result of one PriceItem.
type PriceOut struct {
	// Err is non-nil when the item could not be priced at all (bad count, missing model…).
	Err          error
	CostCents    Cents
	Priced       bool
	Source       string
	Match        string
	Reason       string
	SnapshotID   uint64
	WarningCount uint32
}

var (
	sources = [...]string{"ratecard", "provider", "external", "unpriced"}
	matches = [...]string{"", "exact", "stripped", "alias", "inferred", "override"}
	reasons = [...]string{"", "unknown_model", "no_token_price", "truncated"}
)

func pick(names []string, i C.uint32_t) string {
	if int(i) < len(names) {
		return names[i]
	}
	return ""
}

// Batch holds reusable buffers for PriceBatch, so steady-state pricing allocates nothing
// on the Go side. A Batch is used by one goroutine at a time.
type Batch struct {
	items []C.tg_price_item
	out   []C.tg_price_out
	names []byte
	index map[string]C.tg_span
}

// NewBatch makes an empty reusable batch.
func NewBatch() *Batch { return &Batch{index: make(map[string]C.tg_span)} }

func (b *Batch) span(s string) C.tg_span {
	if s == "" {
		return C.tg_span{}
	}
	if sp, ok := b.index[s]; ok {
		return sp
	}
	sp := C.tg_span{offset: C.uint32_t(len(b.names)), len: C.uint32_t(len(s))}
	b.names = append(b.names, s...)
	b.index[s] = sp
	return sp
}

// PriceBatch prices many items in one C call; results[i] belongs to items[i].
func (e *Engine) PriceBatch(items []PriceItem) ([]PriceOut, error) {
	results := make([]PriceOut, len(items))
	if err := e.PriceBatchInto(NewBatch(), items, results); err != nil {
		return nil, err
	}
	return results, nil
}

// PriceBatchInto is PriceBatch with caller-owned buffers: b is reused across calls and
// results must have len(items) entries.
func (e *Engine) PriceBatchInto(b *Batch, items []PriceItem, results []PriceOut) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.p == nil {
		return &Error{Status: ErrInvalidHandle, Message: "engine is closed"}
	}
	return b.run(items, results, e.p, nil)
}

// run marshals items into the batch buffers, makes one C call (on the engine, or on the
// pinned snapshot when snap is set) and reads the results back.
func (b *Batch) run(items []PriceItem, results []PriceOut, engine *C.tg_engine, snap *C.tg_snapshot) error {
	if len(results) < len(items) {
		return &Error{Status: ErrBufferTooSmall, Message: fmt.Sprintf("results has %d entries, need %d", len(results), len(items))}
	}
	b.items = b.items[:0]
	b.names = b.names[:0]
	clear(b.index)
	for i := range items {
		it := &items[i]
		ci := C.tg_price_item{
			tokens_in:             C.uint64_t(it.TokensIn),
			cached_tokens:         C.uint64_t(it.CachedTokens),
			cache_write_5m_tokens: C.uint64_t(it.CacheWrite5mTokens),
			cache_write_1h_tokens: C.uint64_t(it.CacheWrite1hTokens),
			audio_tokens_in:       C.uint64_t(it.AudioTokensIn),
			image_tokens_in:       C.uint64_t(it.ImageTokensIn),
			tokens_out:            C.uint64_t(it.TokensOut),
			reasoning_tokens:      C.uint64_t(it.ReasoningTokens),
			audio_tokens_out:      C.uint64_t(it.AudioTokensOut),
			image_tokens_out:      C.uint64_t(it.ImageTokensOut),
			web_search_requests:   C.uint64_t(it.WebSearchRequests),
			tool_calls:            C.uint64_t(it.ToolCalls),
			timestamp_ms:          C.TG_TIMESTAMP_NONE,
			provider:              b.span(it.Provider),
			model:                 b.span(it.Model),
			inference_geo:         b.span(it.InferenceGeo),
			speed:                 b.span(it.Speed),
			kind:                  C.uint32_t(it.Kind),
			service_tier:          C.uint32_t(it.ServiceTier),
		}
		if !it.Timestamp.IsZero() {
			ci.timestamp_ms = C.int64_t(it.Timestamp.UnixMilli())
		}
		if it.ProviderCostCents != nil {
			ci.provider_cost_cents = it.ProviderCostCents.raw()
			ci.flags |= C.TG_ITEM_HAS_PROVIDER_COST
		}
		if it.ExternalCostCents != nil {
			ci.external_cost_cents = it.ExternalCostCents.raw()
			ci.flags |= C.TG_ITEM_HAS_EXTERNAL_COST
		}
		b.items = append(b.items, ci)
	}
	if cap(b.out) < len(items) {
		b.out = make([]C.tg_price_out, len(items))
	}
	b.out = b.out[:len(items)]
	var itemsPtr *C.tg_price_item
	var outPtr *C.tg_price_out
	if len(items) > 0 {
		itemsPtr = &b.items[0]
		outPtr = &b.out[0]
	}
	names, namesLen := bytesPtr(b.names)
	var cerr C.tg_error
	var s C.int32_t
	if snap != nil {
		s = C.tg_snapshot_price_batch(snap, itemsPtr, C.size_t(len(items)), names, namesLen, outPtr, &cerr)
	} else {
		s = C.tg_price_batch(engine, itemsPtr, C.size_t(len(items)), names, namesLen, outPtr, &cerr)
	}
	if s != C.TG_OK {
		return newError(s, &cerr)
	}
	for i := range items {
		o := &b.out[i]
		r := PriceOut{
			CostCents:    Cents{Hi: int64(o.cost_cents.hi), Lo: uint64(o.cost_cents.lo)},
			Priced:       o.priced == 1,
			Source:       pick(sources[:], o.source),
			Match:        pick(matches[:], o.match_kind),
			Reason:       pick(reasons[:], o.reason),
			SnapshotID:   uint64(o.snapshot_id),
			WarningCount: uint32(o.warning_count),
		}
		if o.status != C.TG_OK {
			r.Err = &Error{Status: Status(o.status), Message: fmt.Sprintf("item %d: %s", i, Status(o.status))}
		}
		results[i] = r
	}
	return nil
}
