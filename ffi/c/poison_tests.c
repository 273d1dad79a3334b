/* Poisoning suite of the Tollgate C ABI: after a panic (a bug) interrupts an update, the
 * engine's ledger refuses further use with TG_ERR_PANIC instead of serving or changing a
 * half-applied state; tg_state_restore (in memory) or a reopen of the data directory
 * (durable, recovering from the journal) ends the refusal.
 *
 * The panics are provoked with tg_test_panic_next, exported only by a library built with the
 * `test-hooks` feature (debug build: debug assertions on), never by a release artifact; see
 * the `poison` target of the Makefile. */
#define _POSIX_C_SOURCE 200809L
#include "tollgate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        int32_t got_ = (expr);                                                             \
        if (got_ != (want)) {                                                              \
            fprintf(stderr, "FAIL %s (%s:%d): %s = %d (%s), want %d: %s\n", current,        \
                    __FILE__, __LINE__, #expr, got_, tg_status_str(got_), (want),          \
                    err.message);                                                          \
            failed_here = 1;                                                               \
        }                                                                                  \
    } while (0)

#include "check.h"

/* Test-only (feature test-hooks); not in the header. */
int32_t tg_test_panic_next(uint32_t site);
#define SITE_LEDGER_APPLY 1
#define SITE_STORE_LEAD 2
#define SITE_STATE_RESTORE 3

#define CHECK_MESSAGE(text)                                                                \
    do {                                                                                   \
        if (strstr(err.message, (text)) == NULL) {                                         \
            fprintf(stderr, "FAIL %s (%s:%d): message \"%s\" lacks \"%s\"\n", current,      \
                    __FILE__, __LINE__, err.message, (text));                              \
            failed_here = 1;                                                               \
        }                                                                                  \
    } while (0)

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)
#define TRACK(key)                                                                         \
    "{\"customerId\":\"acme\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"tokensIn\":1000," \
    "\"revenueUnitCents\":\"10\",\"idempotencyKey\":\"" key "\",\"timestamp\":\"2026-01-02T00:00:00Z\"}"
#define EVENT "{\"provider\":\"openai\",\"model\":\"gpt-4o\",\"tokensIn\":1000}"
#define REFUSED "a panic interrupted an update of the ledger"

static uint8_t out[1 << 16];
static size_t n;

static tg_engine *memory_engine(void) {
    tg_engine_options o = tg_engine_options_default();
    o.clock_ms = 1767312000000LL; /* 2026-01-02T00:00:00Z */
    tg_engine *e = NULL;
    tg_error err;
    if (tg_engine_new(&o, NULL, 0, &e, &err) != TG_OK) return NULL;
    return e;
}

TEST(a_panic_mid_ledger_update_refuses_the_ledger_until_restore) {
    BEGIN;
    tg_error err;
    tg_engine *e = memory_engine();
    CHECK(e != NULL);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k1")), out, sizeof out, &n, &err), TG_OK);
    uint8_t *saved = malloc(1 << 16);
    size_t saved_len = 0;
    CHECK_STATUS(tg_state_save(e, saved, 1 << 16, &saved_len, &err), TG_OK);
    CHECK_STATUS(tg_test_panic_next(SITE_LEDGER_APPLY), 0);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k2")), out, sizeof out, &n, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("deliberate panic");
    /* From now on: refused, reads and writes alike, with a clear error. */
    CHECK_STATUS(tg_track_json(e, S(TRACK("k3")), out, sizeof out, &n, &err), TG_ERR_PANIC);
    CHECK_MESSAGE(REFUSED);
    tg_margin m;
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("tg_state_restore replaces it");
    CHECK_STATUS(tg_state_save(e, out, sizeof out, &n, &err), TG_ERR_PANIC);
    /* Pricing does not use the ledger: it keeps working. */
    CHECK_STATUS(tg_price_json(e, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    /* A restore replaces the ledger with a whole one. */
    CHECK_STATUS(tg_state_restore(e, saved, saved_len, &err), TG_OK);
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_OK);
    CHECK(m.events == 1);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k2")), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_OK);
    CHECK(m.events == 2);
    free(saved);
    tg_engine_free(e);
    END;
}

TEST(a_panic_holding_the_abi_ledger_lock_refuses_until_restore) {
    BEGIN;
    tg_error err;
    tg_engine *e = memory_engine();
    CHECK(e != NULL);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k1")), out, sizeof out, &n, &err), TG_OK);
    uint8_t *saved = malloc(1 << 16);
    size_t saved_len = 0;
    CHECK_STATUS(tg_state_save(e, saved, 1 << 16, &saved_len, &err), TG_OK);
    CHECK_STATUS(tg_test_panic_next(SITE_STATE_RESTORE), 0);
    CHECK_STATUS(tg_state_restore(e, saved, saved_len, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("deliberate panic");
    CHECK_STATUS(tg_track_json(e, S(TRACK("k2")), out, sizeof out, &n, &err), TG_ERR_PANIC);
    CHECK_MESSAGE(REFUSED);
    tg_margin m;
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_ERR_PANIC);
    CHECK_STATUS(tg_state_restore(e, saved, saved_len, &err), TG_OK);
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_OK);
    CHECK(m.events == 1);
    free(saved);
    tg_engine_free(e);
    END;
}

TEST(a_panic_in_the_journal_leader_refuses_the_store_until_reopen) {
    BEGIN;
    tg_error err;
    char dir[] = "/tmp/tollgate-c-poison-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_open((const uint8_t *)dir, strlen(dir), NULL, &e, &err), TG_OK);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k1")), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_engine_checkpoint(e, &err), TG_OK); /* debug build: round-trip checked */
    CHECK_STATUS(tg_test_panic_next(SITE_STORE_LEAD), 0);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k2")), out, sizeof out, &n, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("deliberate panic");
    CHECK_STATUS(tg_track_json(e, S(TRACK("k3")), out, sizeof out, &n, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("the store refuses further writes: a panic interrupted an update");
    tg_margin m;
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_ERR_PANIC);
    CHECK_MESSAGE("close and reopen the data directory");
    tg_engine_free(e);
    /* Reopened: recovery replays the journal, which holds k2 (written before the panic). */
    CHECK_STATUS(tg_engine_open((const uint8_t *)dir, strlen(dir), NULL, &e, &err), TG_OK);
    CHECK_STATUS(tg_customer_margin(e, S("acme"), &m, &err), TG_OK);
    CHECK(m.events == 2);
    CHECK_STATUS(tg_track_json(e, S(TRACK("k3")), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_engine_checkpoint(e, &err), TG_OK);
    CHECK_STATUS(tg_engine_close(e, &err), TG_OK);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    END;
}

int main(void) {
    run("a_panic_mid_ledger_update_refuses_the_ledger_until_restore",
        a_panic_mid_ledger_update_refuses_the_ledger_until_restore);
    run("a_panic_holding_the_abi_ledger_lock_refuses_until_restore",
        a_panic_holding_the_abi_ledger_lock_refuses_until_restore);
    run("a_panic_in_the_journal_leader_refuses_the_store_until_reopen",
        a_panic_in_the_journal_leader_refuses_the_store_until_reopen);
    printf("c poison: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
