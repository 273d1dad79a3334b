/* Install smoke of the C library (run by scripts/install_smoke.sh, built with pkg-config
 * against the tree `make install PREFIX=…` wrote): price, extract, track, margin; writes the
 * line described in docs/DECISIONS.md (Packaging) to $TOLLGATE_SMOKE_OUT/c.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tollgate.h>

#define BYTES(s) (const uint8_t *)(s), strlen(s)

static int fail(const char *what, int32_t s, const tg_error *err) {
    fprintf(stderr, "%s: %s (%.*s)\n", what, tg_status_str(s), (int)err->message_len, (const char *)err->message);
    return 1;
}

/* Copies the JSON string or number value of "key" (first occurrence) into dst. */
static int field(const uint8_t *json, size_t len, const char *key, char *dst, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char buf[8192];
    if (len >= sizeof buf) return -1;
    memcpy(buf, json, len);
    buf[len] = 0;
    const char *p = strstr(buf, pat);
    if (!p) return -1;
    p += strlen(pat);
    if (*p == '"') p++;
    size_t n = strcspn(p, "\",}");
    if (n >= cap) return -1;
    memcpy(dst, p, n);
    dst[n] = 0;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("TOLLGATE_SMOKE_OUT")) return 2;
    if (tg_abi_version() >> 16 != TG_ABI_VERSION_MAJOR || tg_abi_version() < TG_ABI_VERSION) return 2;
    static char body[1 << 16];
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    size_t body_len = fread(body, 1, sizeof body, f);
    fclose(f);

    tg_engine *engine = NULL;
    tg_error err;
    int32_t s = tg_engine_new(NULL, NULL, 0, &engine, &err);
    if (s != TG_OK) return fail("engine", s, &err);
    uint8_t out[8192];
    size_t len = 0;
    char price[128], tin[32], cached[32], cw5[32], tout[32], cost[128], revenue[128];

    const char *event = "{\"provider\":\"openai\",\"model\":\"gpt-4o\",\"tokensIn\":1200,\"cachedTokens\":800,\"tokensOut\":350}";
    s = tg_price_json(engine, BYTES(event), out, sizeof out, &len, &err);
    if (s != TG_OK) return fail("price", s, &err);
    if (field(out, len, "costCents", price, sizeof price)) return 3;

    s = tg_usage_extract(BYTES("anthropic"), NULL, 0, (const uint8_t *)body, body_len, out, sizeof out, &len, &err);
    if (s != TG_OK) return fail("extract", s, &err);
    if (field(out, len, "tokensIn", tin, sizeof tin) || field(out, len, "cachedTokens", cached, sizeof cached) ||
        field(out, len, "cacheWrite5mTokens", cw5, sizeof cw5) || field(out, len, "tokensOut", tout, sizeof tout))
        return 3;

    const char *customer = "{\"customerId\":\"acme\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                           "\"plan\":{\"pricingModel\":\"usage_based\",\"unitRevenueCents\":5}}";
    s = tg_upsert_customer_json(engine, BYTES(customer), out, sizeof out, &len, &err);
    if (s != TG_OK) return fail("customer", s, &err);
    const char *context = "{\"customerId\":\"acme\",\"runId\":\"run-1\",\"timestamp\":\"2026-01-10T00:00:00Z\"}";
    s = tg_track_response(engine, BYTES("anthropic"), NULL, 0, (const uint8_t *)body, body_len, BYTES(context), out,
                          sizeof out, &len, &err);
    if (s != TG_OK) return fail("track", s, &err);
    if (field(out, len, "costCents", cost, sizeof cost) || field(out, len, "revenueCents", revenue, sizeof revenue))
        return 3;

    tg_margin m;
    s = tg_customer_margin(engine, BYTES("acme"), &m, &err);
    if (s != TG_OK) return fail("margin", s, &err);
    uint8_t margin[TG_DECIMAL_STRING_MAX + 1];
    s = tg_decimal_format(m.margin_cents, margin, sizeof margin - 1, &len);
    if (s != TG_OK) return 3;
    margin[len] = 0;
    tg_engine_free(engine);

    char line[1024];
    snprintf(line, sizeof line,
             "{\"price\":\"%s\",\"extractTokens\":[%s,%s,%s,%s],\"trackCost\":\"%s\",\"trackRevenue\":\"%s\",\"margin\":\"%s\"}\n",
             price, tin, cached, cw5, tout, cost, revenue, (const char *)margin);
    char path[4096];
    snprintf(path, sizeof path, "%s/c.json", getenv("TOLLGATE_SMOKE_OUT"));
    FILE *o = fopen(path, "wb");
    if (!o) return 2;
    fputs(line, o);
    fclose(o);
    printf("c: %s", line);
    return 0;
}
