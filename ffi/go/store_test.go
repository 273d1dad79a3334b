package tollgate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const storeAcme = `{"customerId":"acme","plan":{"pricingModel":"usage_based","unitRevenueCents":5},"timestamp":"2026-01-01T00:00:00Z"}`

func storeEvent(key string) string {
	return `{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"` + key + `","timestamp":"2026-01-02T00:00:00Z"}`
}

func TestDurableEngineSurvivesAReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpsertCustomerJSON([]byte(storeAcme)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := e.TrackJSON([]byte(storeEvent(k))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenEngine(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.TrackJSON([]byte(storeEvent("k3"))); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = OpenEngine(dir, &StoreOptions{Durability: DurabilityInterval})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := e.Recovery()
	if err != nil {
		t.Fatal(err)
	}
	if r.Checkpoint == nil || *r.Checkpoint != 2 || r.Records != 1 || r.TornTail != nil {
		t.Fatalf("%+v", r)
	}
	m, err := e.CustomerMargin("acme")
	if err != nil {
		t.Fatal(err)
	}
	// 3 events x 1000 tokens x 2.5e-6 USD = 0.75 cents; revenue 3 x 5 cents.
	if m.Events != 3 || m.CostCents.String() != "0.75" || m.RevenueCents.String() != "15" {
		t.Fatalf("%+v", m)
	}
}

func TestDurableEngineCutsATornTail(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := e.TrackJSON([]byte(storeEvent(k))); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	seg := filepath.Join(dir, "wal-00000000000000000001.tgj")
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-4); err != nil {
		t.Fatal(err)
	}
	e, err = OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, _ := e.Recovery()
	if r.Records != 1 || r.TornTail == nil || r.TornTail.Reason != "the entry is cut short" {
		t.Fatalf("%+v", r)
	}
	mem, _ := NewEngine(nil)
	defer mem.Close()
	if err := mem.Checkpoint(); !errors.Is(err, ErrMisuse) {
		t.Fatal(err)
	}
}
