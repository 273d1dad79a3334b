/* Guardrails through the C ABI: the scenarios of tests/guardrails.rs (hand-computed, same
 * numbers), the struct fast path and the JSON path, reservations, bad policies, and 8
 * threads asking and tracking at once. Built like tests.c (see Makefile). */
#define _POSIX_C_SOURCE 200809L
#include "tollgate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* 2026-01-15T12:00:00Z */
#define T 1768478400000LL
#define DAY 86400000LL

static tg_engine *engine(void) {
    tg_engine_options o = tg_engine_options_default();
    o.clock_ms = T;
    tg_engine *e = NULL;
    if (tg_engine_new(&o, NULL, 0, &e, NULL) != TG_OK) return NULL;
    return e;
}

static int decimal_is(tg_decimal d, const char *want) {
    uint8_t buf[TG_DECIMAL_STRING_MAX];
    size_t n = 0;
    if (tg_decimal_format(d, buf, sizeof buf, &n) != TG_OK) return 0;
    return n == strlen(want) && memcmp(buf, want, n) == 0;
}

static tg_decimal dec(const char *text) {
    tg_decimal d = {0, 0};
    tg_decimal_parse((const uint8_t *)text, strlen(text), &d, NULL);
    return d;
}

static int32_t policy(tg_engine *e, const char *json) {
    uint8_t out[TG_RECORD_OUT_MAX];
    size_t n = 0;
    return tg_upsert_policy_json(e, (const uint8_t *)json, strlen(json), out, sizeof out, &n,
                                 NULL);
}

static int32_t spend(tg_engine *e, const char *customer, const char *extra, const char *cost,
                     long long ts) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"type\":\"tool\",\"customerId\":\"%s\",\"externalCostCents\":\"%s\",\"ts\":%lld%s}",
             customer, cost, ts, extra);
    uint8_t out[TG_RECORD_OUT_MAX];
    size_t n = 0;
    return tg_track_json(e, (const uint8_t *)json, strlen(json), out, sizeof out, &n, NULL);
}

static tg_allow_request request(const char *customer) {
    tg_allow_request r;
    memset(&r, 0, sizeof r);
    r.customer_id = (const uint8_t *)customer;
    r.customer_id_len = strlen(customer);
    r.at_ms = T;
    return r;
}

static int32_t ask(tg_engine *e, const char *customer, const char *estimate, long long at,
                   tg_decision *d) {
    tg_allow_request r = request(customer);
    r.at_ms = at;
    if (estimate) {
        r.flags = TG_ALLOW_HAS_ESTIMATE;
        r.estimate_cents = dec(estimate);
    }
    return tg_allow(e, &r, d, NULL);
}

TEST(budget_boundary_and_month_rollover) {
    BEGIN;
    tg_engine *e = engine();
    CHECK(e != NULL);
    CHECK_STATUS(policy(e, "{\"policyId\":\"b100\",\"customerId\":\"acme\",\"budget\":{\"cents\":\"100\",\"period\":\"month\"},\"ts\":0}"), TG_OK);
    CHECK_STATUS(spend(e, "acme", "", "60", T), TG_OK);
    tg_decision d;
    /* 100 - 60 = 40 left: 40 fits exactly, 40 + 1e-24 does not. */
    CHECK_STATUS(ask(e, "acme", "40", T, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW && d.reason == TG_GUARD_OK);
    CHECK(d.has_remaining_budget == 1 && decimal_is(d.remaining_budget_cents, "40"));
    CHECK(decimal_is(d.cost_cents, "60"));
    CHECK(d.period == TG_PERIOD_MONTH && d.period_label_len == 7 &&
          memcmp(d.period_label, "2026-01", 7) == 0);
    CHECK(d.policy_id_len == 4 && memcmp(d.policy_id, "b100", 4) == 0);
    CHECK_STATUS(ask(e, "acme", "40.000000000000000000000001", T, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK && d.reason == TG_GUARD_BUDGET);
    /* 2026-02-01T00:00:00Z: a new month. */
    CHECK_STATUS(ask(e, "acme", "100", 1769904000000LL, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW && memcmp(d.period_label, "2026-02", 7) == 0);
    CHECK(decimal_is(d.cost_cents, "0"));
    /* No policy for another customer. */
    CHECK_STATUS(ask(e, "other", NULL, T, &d), TG_OK);
    CHECK(d.reason == TG_GUARD_NO_POLICY && d.period == TG_PERIOD_NONE && d.policy_id_len == 0);
    tg_engine_free(e);
    END;
}

TEST(downgrade_chain_with_usage_estimates) {
    BEGIN;
    tg_engine *e = engine();
    CHECK_STATUS(policy(e, "{\"policyId\":\"dg\",\"customerId\":\"c\",\"budget\":{\"cents\":\"100\",\"period\":\"day\"},\"action\":\"downgrade\",\"downgrade\":{\"gpt-4o\":\"gpt-3.5-turbo\",\"gpt-3.5-turbo\":\"gpt-4o-mini\"},\"ts\":0}"), TG_OK);
    CHECK_STATUS(spend(e, "c", "", "90", T), TG_OK);
    /* 100k in + 100k out: gpt-4o 125, gpt-3.5-turbo 20, gpt-4o-mini 7.5 cents (LiteLLM rates).
     * 10 left: gpt-3.5-turbo is itself over; gpt-4o-mini fits. */
    tg_allow_request r = request("c");
    r.flags = TG_ALLOW_HAS_USAGE;
    r.model = (const uint8_t *)"gpt-4o";
    r.model_len = 6;
    r.provider = (const uint8_t *)"openai";
    r.provider_len = 6;
    r.tokens_in = 100000;
    r.tokens_out = 100000;
    tg_decision d;
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_DOWNGRADE && d.reason == TG_GUARD_BUDGET);
    CHECK(d.suggested_model_len == 11 && memcmp(d.suggested_model, "gpt-4o-mini", 11) == 0);
    CHECK(d.has_estimate == 1 && decimal_is(d.estimate_cents, "7.5"));
    /* The JSON path agrees. */
    const char *q = "{\"customerId\":\"c\",\"atMs\":1768478400000,\"estimate\":{\"model\":\"gpt-4o\",\"provider\":\"openai\",\"tokensIn\":100000,\"tokensOut\":100000}}";
    char out[TG_DECISION_JSON_MAX];
    size_t n = 0;
    CHECK_STATUS(tg_allow_json(e, (const uint8_t *)q, strlen(q), (uint8_t *)out, sizeof out, &n, NULL), TG_OK);
    out[n < sizeof out ? n : sizeof out - 1] = 0;
    CHECK(strstr(out, "\"decision\":\"downgrade\",\"reason\":\"budget_exceeded\"") != NULL);
    CHECK(strstr(out, "\"suggestedModel\":\"gpt-4o-mini\"") != NULL);
    CHECK(strstr(out, "\"remainingBudgetCents\":\"10\",\"estimateCents\":\"7.5\"") != NULL);
    tg_engine_free(e);
    END;
}

TEST(run_and_agent_caps) {
    BEGIN;
    tg_engine *e = engine();
    CHECK_STATUS(policy(e, "{\"policyId\":\"p\",\"customerId\":\"c\",\"maxRunCostCents\":\"30\",\"maxAgentCost\":{\"cents\":\"50\",\"period\":\"day\"},\"ts\":0}"), TG_OK);
    CHECK_STATUS(spend(e, "c", ",\"runId\":\"r1\",\"agentId\":\"a1\"", "20", T), TG_OK);
    tg_allow_request r = request("c");
    r.run_id = (const uint8_t *)"r1";
    r.run_id_len = 2;
    r.flags = TG_ALLOW_HAS_ESTIMATE;
    r.estimate_cents = dec("10");
    tg_decision d;
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW);
    r.estimate_cents = dec("10.5");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK && d.reason == TG_GUARD_MAX_RUN_COST);
    CHECK(d.period == TG_PERIOD_RUN && d.period_label_len == 3 && decimal_is(d.cost_cents, "20"));
    r.run_id = NULL;
    r.run_id_len = 0;
    r.agent_id = (const uint8_t *)"a1";
    r.agent_id_len = 2;
    r.estimate_cents = dec("30");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW);
    r.estimate_cents = dec("30.01");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK && d.reason == TG_GUARD_MAX_AGENT_COST);
    CHECK(d.period == TG_PERIOD_DAY && memcmp(d.period_label, "2026-01-15", 10) == 0);
    /* Tomorrow the agent has 50 again. */
    r.at_ms = T + DAY;
    r.estimate_cents = dec("50");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW);
    tg_engine_free(e);
    END;
}

TEST(reservations_settle_release_expire) {
    BEGIN;
    tg_engine *e = engine();
    CHECK_STATUS(policy(e, "{\"policyId\":\"b\",\"customerId\":\"c\",\"budget\":{\"cents\":\"100\",\"period\":\"month\"},\"ts\":0}"), TG_OK);
    tg_allow_request r = request("c");
    r.flags = TG_ALLOW_HAS_ESTIMATE | TG_ALLOW_RESERVE;
    r.estimate_cents = dec("60");
    tg_decision d;
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW && d.reservation_id != 0);
    uint64_t r1 = d.reservation_id;
    CHECK_STATUS(ask(e, "c", "41", T, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK && decimal_is(d.remaining_budget_cents, "40"));
    /* Settled higher (70): 30 left. */
    const char *ev = "{\"type\":\"tool\",\"customerId\":\"c\",\"externalCostCents\":\"70\",\"ts\":1768478400000}";
    char out[TG_RECORD_OUT_MAX];
    size_t n = 0;
    CHECK_STATUS(tg_settle_json(e, r1, (const uint8_t *)ev, strlen(ev), (uint8_t *)out, sizeof out, &n, NULL), TG_OK);
    out[n] = 0;
    CHECK(strstr(out, "\"releasedCents\":\"60\"") != NULL);
    CHECK(strstr(out, "\"status\":\"accepted\"") != NULL);
    CHECK_STATUS(ask(e, "c", NULL, T, &d), TG_OK);
    CHECK(decimal_is(d.remaining_budget_cents, "30"));
    /* Released: the 30 comes back. */
    r.estimate_cents = dec("30");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    uint64_t r2 = d.reservation_id;
    CHECK(r2 != 0 && r2 != r1);
    tg_decimal released = {0, 0};
    CHECK_STATUS(tg_release(e, r2, &released, NULL), TG_OK);
    CHECK(decimal_is(released, "30"));
    tg_error err;
    CHECK_STATUS(tg_release(e, r2, &released, &err), TG_ERR_NOT_FOUND);
    /* Expired: 1 s ttl; at +1000 ms the 30 is free again. */
    r.ttl_ms = 1000;
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.reservation_id != 0);
    CHECK_STATUS(ask(e, "c", "0.01", T + 999, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK);
    CHECK_STATUS(ask(e, "c", "30", T + 1000, &d), TG_OK);
    CHECK(d.verdict == TG_VERDICT_ALLOW);
    /* Breaches: none yet (70 <= 100). */
    char b[1024];
    CHECK_STATUS(tg_policy_breaches_json(e, (uint8_t *)b, sizeof b, &n, NULL), TG_OK);
    CHECK(n == 15 && memcmp(b, "{\"breaches\":[]}", 15) == 0);
    tg_engine_free(e);
    END;
}

TEST(bad_policies_and_requests) {
    BEGIN;
    tg_engine *e = engine();
    tg_error err;
    uint8_t out[TG_RECORD_OUT_MAX];
    size_t n = 0;
    CHECK_STATUS(tg_upsert_policy_json(e, S("{\"policyId\":\"p\",\"budget\":{\"cents\":\"-1\",\"period\":\"day\"}}"), out, sizeof out, &n, &err), TG_ERR_INVALID_INPUT);
    CHECK(strncmp(err.message, "budget.cents: must not be negative", 34) == 0);
    CHECK_STATUS(tg_upsert_policy_json(e, S("{\"policyId\":\"p\",\"action\":\"downgrade\"}"), out, sizeof out, &n, &err), TG_ERR_INVALID_INPUT);
    CHECK(strncmp(err.message, "downgrade:", 10) == 0);
    CHECK_STATUS(tg_upsert_policy_json(e, S("{\"type\":\"customer\",\"policyId\":\"p\"}"), out, sizeof out, &n, &err), TG_ERR_INVALID_INPUT);
    /* A small buffer fails before anything changes. */
    CHECK_STATUS(tg_upsert_policy_json(e, S("{\"policyId\":\"p\"}"), out, 8, &n, &err), TG_ERR_BUFFER_TOO_SMALL);
    tg_decision d;
    memset(&d, 7, sizeof d);
    tg_allow_request r = request("");
    CHECK_STATUS(tg_allow(e, &r, &d, &err), TG_ERR_INVALID_INPUT);
    CHECK(strncmp(err.message, "customerId:", 11) == 0);
    CHECK(d.verdict == 0x07070707); /* nothing written on failure */
    r = request("c");
    r.flags = 64;
    CHECK_STATUS(tg_allow(e, &r, &d, &err), TG_ERR_INVALID_INPUT);
    r.flags = TG_ALLOW_RESERVE; /* a reservation needs an estimate */
    CHECK_STATUS(tg_allow(e, &r, &d, &err), TG_ERR_INVALID_INPUT);
    CHECK(strncmp(err.message, "estimate:", 9) == 0);
    r.flags = TG_ALLOW_HAS_USAGE; /* needs a model */
    CHECK_STATUS(tg_allow(e, &r, &d, &err), TG_ERR_INVALID_INPUT);
    CHECK_STATUS(tg_allow(e, NULL, &d, &err), TG_ERR_NULL);
    CHECK_STATUS(tg_allow(e, &r, NULL, &err), TG_ERR_NULL);
    CHECK_STATUS(tg_allow(NULL, &r, &d, &err), TG_ERR_NULL);
    char js[256];
    CHECK_STATUS(tg_allow_json(e, S("{\"customerId\":\"c\",\"estimateCents\":\"1\",\"estimate\":{}}"), (uint8_t *)js, sizeof js, &n, &err), TG_ERR_INVALID_INPUT);
    CHECK_STATUS(tg_allow_json(e, S("{\"customerId\":\"c\",\"bogus\":1}"), (uint8_t *)js, sizeof js, &n, &err), TG_ERR_INVALID_INPUT);
    /* reserve with a small buffer: refused before reserving */
    CHECK_STATUS(tg_allow_json(e, S("{\"customerId\":\"c\",\"estimateCents\":\"1\",\"reserve\":true}"), (uint8_t *)js, sizeof js, &n, &err), TG_ERR_BUFFER_TOO_SMALL);
    CHECK(n == TG_DECISION_JSON_MAX);
    tg_engine_free(e);
    END;
}

struct worker {
    tg_engine *e;
    int id;
    int allowed;
};

static void *guard_worker(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < 2000; i++) {
        tg_allow_request r = request("c");
        r.flags = TG_ALLOW_HAS_ESTIMATE | TG_ALLOW_RESERVE;
        r.estimate_cents = dec("7");
        tg_decision d;
        if (tg_allow(w->e, &r, &d, NULL) != TG_OK) return NULL;
        if (d.verdict == TG_VERDICT_BLOCK) break;
        char ev[256];
        snprintf(ev, sizeof ev,
                 "{\"type\":\"tool\",\"customerId\":\"c\",\"externalCostCents\":\"6.5\",\"idempotencyKey\":\"w%d-%d\",\"ts\":%lld}",
                 w->id, i, T);
        char out[TG_RECORD_OUT_MAX];
        size_t n = 0;
        if (tg_settle_json(w->e, d.reservation_id, (const uint8_t *)ev, strlen(ev), (uint8_t *)out, sizeof out, &n, NULL) != TG_OK)
            return NULL;
        w->allowed++;
    }
    return NULL;
}

TEST(eight_threads_reserve_and_settle_within_budget) {
    BEGIN;
    tg_engine *e = engine();
    CHECK_STATUS(policy(e, "{\"policyId\":\"b\",\"customerId\":\"c\",\"budget\":{\"cents\":\"1000\",\"period\":\"all\"},\"ts\":0}"), TG_OK);
    pthread_t t[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i].e = e;
        w[i].id = i;
        w[i].allowed = 0;
        pthread_create(&t[i], NULL, guard_worker, &w[i]);
    }
    int allowed = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        allowed += w[i].allowed;
    }
    /* Each call reserves 7 and costs 6.5: calls are allowed while 7 fits, so the booked cost
     * never exceeds 1000 and stops within 7 of it: 153 calls (153 x 6.5 = 994.5; a 154th
     * would need 994.5 + 7 > 1000). */
    tg_margin m;
    CHECK_STATUS(tg_customer_margin(e, S("c"), &m, NULL), TG_OK);
    CHECK(allowed == 153 && m.events == 153 && decimal_is(m.cost_cents, "994.5"));
    tg_engine_free(e);
    END;
}

/* tg_allow takes a request whose texts are all short ASCII on a quick path and anything else
 * on the general one: the same question through both gives the same bytes. A model name of
 * 17 bytes (used only by a downgrade, which a block policy never makes) sends the request
 * through the general path; without it the quick path answers. */
TEST(quick_and_general_paths_agree) {
    BEGIN;
    tg_engine *e = engine();
    CHECK_STATUS(policy(e, "{\"policyId\":\"p-month\",\"customerId\":\"acme\",\"budget\":{\"cents\":\"100\",\"period\":\"month\"},\"minMargin\":{\"pct\":\"10\",\"period\":\"week\"},\"maxRunCostCents\":\"30\",\"maxAgentCost\":{\"cents\":\"50\",\"period\":\"day\"},\"ts\":0}"), TG_OK);
    CHECK_STATUS(spend(e, "acme", ",\"runId\":\"r1\",\"agentId\":\"a1\",\"revenueUnitCents\":\"100\"", "20", T), TG_OK);
    const char *estimates[] = {"5", "10", "10.000000000000000000000001", "80", NULL};
    for (int i = 0; i <= 4; i++) {
        tg_allow_request r = request("acme");
        r.run_id = (const uint8_t *)"r1";
        r.run_id_len = 2;
        r.agent_id = (const uint8_t *)"a1";
        r.agent_id_len = 2;
        if (estimates[i]) {
            r.flags = TG_ALLOW_HAS_ESTIMATE;
            r.estimate_cents = dec(estimates[i]);
        }
        tg_decision quick, general;
        memset(&quick, 0, sizeof quick);
        memset(&general, 0, sizeof general);
        CHECK_STATUS(tg_allow(e, &r, &quick, NULL), TG_OK);
        r.model = (const uint8_t *)"model-of-17-bytes";
        r.model_len = 17;
        CHECK_STATUS(tg_allow(e, &r, &general, NULL), TG_OK);
        CHECK(memcmp(&quick, &general, sizeof quick) == 0);
    }
    /* 10 fits the run's 30 - 20 exactly; a hair more breaks it. */
    tg_decision d;
    tg_allow_request r = request("acme");
    r.run_id = (const uint8_t *)"r1";
    r.run_id_len = 2;
    r.flags = TG_ALLOW_HAS_ESTIMATE;
    r.estimate_cents = dec("10.000000000000000000000001");
    CHECK_STATUS(tg_allow(e, &r, &d, NULL), TG_OK);
    CHECK(d.verdict == TG_VERDICT_BLOCK && d.reason == TG_GUARD_MAX_RUN_COST);
    tg_engine_free(e);
    END;
}

int main(void) {
    uint32_t v = tg_abi_version();
    if (v >> 16 != TG_ABI_VERSION_MAJOR || v < TG_ABI_VERSION) return 2;
    run("budget_boundary_and_month_rollover", budget_boundary_and_month_rollover);
    run("downgrade_chain_with_usage_estimates", downgrade_chain_with_usage_estimates);
    run("run_and_agent_caps", run_and_agent_caps);
    run("reservations_settle_release_expire", reservations_settle_release_expire);
    run("bad_policies_and_requests", bad_policies_and_requests);
    run("eight_threads_reserve_and_settle_within_budget", eight_threads_reserve_and_settle_within_budget);
    run("quick_and_general_paths_agree", quick_and_general_paths_agree);
    printf("c guard: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
