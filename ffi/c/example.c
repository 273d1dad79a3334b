/* Example: embed the Tollgate engine from C (built and run by `make test`, output checked
 * against example.expected). */
#include "tollgate.h"

#include <stdio.h>
#include <string.h>

#define BYTES(s) (const uint8_t *)(s), strlen(s)

static int fail(int32_t status, const tg_error *err) {
    fprintf(stderr, "%s: %s\n", tg_status_str(status), err->message);
    return 1;
}

int main(void) {
    /* readme:start */
    if (tg_abi_version() >> 16 != TG_ABI_VERSION_MAJOR || tg_abi_version() < TG_ABI_VERSION)
        return 2; /* built against another major version of tollgate.h */
    tg_engine *engine = NULL;
    tg_error err;
    int32_t s = tg_engine_new(NULL, NULL, 0, &engine, &err); /* embedded rate card */
    if (s != TG_OK) return fail(s, &err);

    /* JSON in, JSON out: amounts are exact decimal strings of cents. */
    const char *event = "{\"provider\":\"openai\",\"model\":\"gpt-4o\","
                        "\"tokensIn\":1200,\"cachedTokens\":800,\"tokensOut\":350}";
    uint8_t out[4096];
    size_t len = 0;
    s = tg_price_json(engine, BYTES(event), out, sizeof out, &len, &err);
    if (s != TG_OK) return fail(s, &err);
    printf("%.*s\n", (int)len, (const char *)out);

    /* The fast path: fixed-layout structs, many items per call, names in one arena. */
    const char names[] = "openaigpt-4o";
    tg_price_item items[2];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 2; i++) {
        items[i].timestamp_ms = TG_TIMESTAMP_NONE;
        items[i].provider = (tg_span){0, 6};
        items[i].model = (tg_span){6, 6};
        items[i].tokens_in = 1000;
    }
    items[1].service_tier = TG_TIER_BATCH;
    tg_price_out results[2];
    s = tg_price_batch(engine, items, 2, (const uint8_t *)names, strlen(names), results, &err);
    if (s != TG_OK) return fail(s, &err);
    for (int i = 0; i < 2; i++) {
        uint8_t text[TG_DECIMAL_STRING_MAX];
        tg_decimal_format(results[i].cost_cents, text, sizeof text, &len);
        printf("item %d: %.*s cents\n", i, (int)len, (const char *)text);
    }

    /* Usage read off a raw provider response: no SDK counts tokens. */
    const char *response = "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-sonnet-4-5-20250929\","
                           "\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":1111,"
                           "\"cache_creation_input_tokens\":418,\"output_tokens\":33}}";
    s = tg_usage_extract(BYTES("anthropic"), NULL, 0, BYTES(response), out, sizeof out, &len, &err);
    if (s != TG_OK) return fail(s, &err);
    printf("%.*s\n", (int)len, (const char *)out);

    /* The ledger: a customer on a usage-based plan; one call from the raw response to the
     * ledger (extract, price, ingest exactly once); the customer's live margin in O(1). */
    const char *customer = "{\"customerId\":\"acme\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                           "\"plan\":{\"pricingModel\":\"usage_based\",\"unitRevenueCents\":5}}";
    s = tg_upsert_customer_json(engine, BYTES(customer), out, sizeof out, &len, &err);
    if (s != TG_OK) return fail(s, &err);
    const char *context = "{\"customerId\":\"acme\",\"runId\":\"run-1\",\"timestamp\":\"2026-01-10T00:00:00Z\"}";
    s = tg_track_response(engine, BYTES("anthropic"), NULL, 0, BYTES(response), BYTES(context), out,
                          sizeof out, &len, &err);
    if (s != TG_OK) return fail(s, &err);
    printf("%.*s\n", (int)len, (const char *)out);
    tg_margin m;
    s = tg_customer_margin(engine, BYTES("acme"), &m, &err);
    if (s != TG_OK) return fail(s, &err);
    uint8_t cents[TG_DECIMAL_STRING_MAX];
    tg_decimal_format(m.margin_cents, cents, sizeof cents, &len);
    printf("acme: margin %.*s cents, %lld.%02lld %% of revenue\n", (int)len, (const char *)cents,
           (long long)(m.margin_pct_hundredths / 100), (long long)(m.margin_pct_hundredths % 100));
    tg_engine_free(engine);
    /* readme:end */
    return 0;
}
