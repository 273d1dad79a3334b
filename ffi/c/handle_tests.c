/* Handle misuse suite of the Tollgate C ABI: for every handle kind (tg_engine, tg_snapshot,
 * tg_stream, tg_sync_report, tg_refresher) a use after its release, a second release, and a
 * handle of another kind report TG_ERR_INVALID_HANDLE (release functions returning void
 * ignore them) and never touch freed memory; values the library never issued (pointers to
 * real memory, freed or not) are refused the same way.
 *
 * Run plain, under AddressSanitizer + UBSan and under valgrind (see Makefile). The library is
 * not instrumented for ASan, so a read of freed memory inside it would be caught by valgrind,
 * which checks every instruction: the valgrind run is the proof that nothing freed is read. */
#define _POSIX_C_SOURCE 200809L
#include "tollgate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The call fails with TG_ERR_INVALID_HANDLE and its message contains `text`. */
#define CHECK_INVALID(expr, text)                                                          \
    do {                                                                                   \
        memset(&err, 0, sizeof err);                                                       \
        CHECK_STATUS(expr, TG_ERR_INVALID_HANDLE);                                         \
        if (err.status != TG_ERR_INVALID_HANDLE || strstr(err.message, (text)) == NULL) {  \
            fprintf(stderr, "FAIL %s (%s:%d): %s: message \"%s\" lacks \"%s\"\n", current, \
                    __FILE__, __LINE__, #expr, err.message, (text));                       \
            failed_here = 1;                                                               \
        }                                                                                  \
    } while (0)

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)
#define EVENT "{\"provider\":\"openai\",\"model\":\"gpt-4o\",\"tokensIn\":1000}"
#define CARD "{\"gpt-4o\": {\"litellm_provider\": \"openai\", \"mode\": \"chat\", \"input_cost_per_token\": 1e-06, \"output_cost_per_token\": 4e-06}}"

#define RELEASED "the handle was already released"

static uint8_t out[1 << 20];
static size_t n;

/* A temporary directory with a rate-card file `card.json` and a data directory path. */
struct dirs {
    char root[64], card[128], data[128];
};

static int make_dirs(struct dirs *d) {
    strcpy(d->root, "/tmp/tollgate-c-handles-XXXXXX");
    if (!mkdtemp(d->root)) return 0;
    snprintf(d->card, sizeof d->card, "%s/card.json", d->root);
    snprintf(d->data, sizeof d->data, "%s/data", d->root);
    FILE *f = fopen(d->card, "w");
    if (!f) return 0;
    int ok = fputs(CARD, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int remove_dirs(const struct dirs *d) {
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d->root);
    return system(cmd) == 0;
}

/* ---------------------------------------------------------------- tg_engine */

TEST(engine_use_after_free_and_double_free) {
    BEGIN;
    tg_error err;
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_new(NULL, NULL, 0, &e, &err), TG_OK);
    CHECK_STATUS(tg_price_json(e, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    tg_engine_free(e);
    CHECK_INVALID(tg_price_json(e, S(EVENT), out, sizeof out, &n, &err),
                  "tg_engine: " RELEASED " (tg_engine_free / tg_engine_close)");
    CHECK_INVALID(tg_engine_snapshots_json(e, out, sizeof out, &n, &err), RELEASED);
    CHECK_INVALID(tg_track_json(e, S("{\"customerId\":\"c\"}"), out, sizeof out, &n, &err), RELEASED);
    tg_engine_free(e); /* double free: ignored */
    CHECK_INVALID(tg_engine_close(e, &err), RELEASED); /* close after free */
    /* A new engine may take the freed slot: the old handle stays dead, the new one works. */
    tg_engine *e2 = NULL;
    CHECK_STATUS(tg_engine_new(NULL, NULL, 0, &e2, &err), TG_OK);
    CHECK(e2 != e);
    CHECK_INVALID(tg_price_json(e, S(EVENT), out, sizeof out, &n, &err), RELEASED);
    CHECK_STATUS(tg_price_json(e2, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_engine_close(e2, &err), TG_OK);
    CHECK_INVALID(tg_engine_close(e2, &err), RELEASED); /* double close */
    tg_engine_free(e2);
    END;
}

TEST(durable_engine_use_after_close) {
    BEGIN;
    tg_error err;
    struct dirs d;
    CHECK(make_dirs(&d));
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_open((const uint8_t *)d.data, strlen(d.data), NULL, &e, &err), TG_OK);
    CHECK_STATUS(tg_engine_checkpoint(e, &err), TG_OK);
    CHECK_STATUS(tg_engine_close(e, &err), TG_OK);
    CHECK_INVALID(tg_engine_checkpoint(e, &err), RELEASED);
    CHECK_INVALID(tg_engine_flush(e, &err), RELEASED);
    CHECK_INVALID(tg_engine_recovery_json(e, out, sizeof out, &n, &err), RELEASED);
    CHECK_INVALID(tg_engine_close(e, &err), RELEASED);
    tg_engine_free(e);
    /* The directory was released with the handle: it opens again. */
    CHECK_STATUS(tg_engine_open((const uint8_t *)d.data, strlen(d.data), NULL, &e, &err), TG_OK);
    tg_engine_free(e);
    CHECK_INVALID(tg_engine_flush(e, &err), RELEASED);
    CHECK(remove_dirs(&d));
    END;
}

/* ---------------------------------------------------------------- tg_snapshot */

TEST(snapshot_use_after_unpin_and_double_unpin) {
    BEGIN;
    tg_error err;
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_new(NULL, NULL, 0, &e, &err), TG_OK);
    const tg_snapshot *s = NULL;
    CHECK_STATUS(tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &s, &err), TG_OK);
    uint64_t id = 0;
    CHECK_STATUS(tg_snapshot_info(s, &id, NULL, &err), TG_OK);
    CHECK(id != 0);
    tg_snapshot_unpin(s);
    CHECK_INVALID(tg_snapshot_info(s, &id, NULL, &err), "tg_snapshot: " RELEASED " (tg_snapshot_unpin)");
    CHECK_INVALID(tg_snapshot_price_json(s, S(EVENT), out, sizeof out, &n, &err), RELEASED);
    tg_price_item item;
    memset(&item, 0, sizeof item);
    tg_price_out result;
    CHECK_INVALID(tg_snapshot_price_batch(s, &item, 1, NULL, 0, &result, &err), RELEASED);
    tg_snapshot_unpin(s); /* double unpin: ignored */
    /* Pin and unpin again and again: each slot reuse gets a new value; every old one stays
     * dead. */
    for (int i = 0; i < 1000; i++) {
        const tg_snapshot *t = NULL;
        CHECK_STATUS(tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &t, &err), TG_OK);
        CHECK(t != s);
        CHECK_STATUS(tg_snapshot_price_json(t, S(EVENT), out, sizeof out, &n, &err), TG_OK);
        CHECK_INVALID(tg_snapshot_info(s, NULL, NULL, &err), RELEASED);
        tg_snapshot_unpin(t);
        tg_snapshot_unpin(t);
        CHECK_INVALID(tg_snapshot_info(t, NULL, NULL, &err), RELEASED);
        s = t;
    }
    /* A pin outlives its engine (documented); after its own unpin it is dead too. */
    const tg_snapshot *kept = NULL;
    CHECK_STATUS(tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &kept, &err), TG_OK);
    tg_engine_free(e);
    CHECK_STATUS(tg_snapshot_price_json(kept, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    CHECK_INVALID(tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &s, &err), RELEASED);
    tg_snapshot_unpin(kept);
    CHECK_INVALID(tg_snapshot_price_json(kept, S(EVENT), out, sizeof out, &n, &err), RELEASED);
    END;
}

/* ---------------------------------------------------------------- tg_stream */

TEST(stream_use_after_free_and_double_free) {
    BEGIN;
    tg_error err;
    tg_stream *st = NULL;
    CHECK_STATUS(tg_stream_new(S("openai"), NULL, 0, &st, &err), TG_OK);
    CHECK_STATUS(tg_stream_feed(st, S("{\"id\":"), &err), TG_OK);
    tg_stream_free(st);
    CHECK_INVALID(tg_stream_feed(st, S("\"x\"}"), &err), "tg_stream: " RELEASED " (tg_stream_free)");
    CHECK_INVALID(tg_stream_finish(st, out, sizeof out, &n, &err), RELEASED);
    tg_stream_free(st); /* double free: ignored */
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_new(NULL, NULL, 0, &e, &err), TG_OK);
    CHECK_INVALID(tg_stream_track(e, st, S("{\"customerId\":\"c\"}"), out, sizeof out, &n, &err), RELEASED);
    tg_engine_free(e);
    END;
}

/* ---------------------------------------------------------------- tg_sync_report, tg_refresher */

TEST(sync_report_and_refresher_use_after_release) {
    BEGIN;
    tg_error err;
    struct dirs d;
    CHECK(make_dirs(&d));
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_open((const uint8_t *)d.data, strlen(d.data), NULL, &e, &err), TG_OK);
    tg_sync_report *r = NULL;
    CHECK_STATUS(tg_ratecard_pull(e, (const uint8_t *)d.card, strlen(d.card), NULL, &r, &err), TG_OK);
    CHECK_STATUS(tg_sync_report_json(r, out, sizeof out, &n, &err), TG_OK);
    tg_sync_report_free(r);
    CHECK_INVALID(tg_sync_report_json(r, out, sizeof out, &n, &err),
                  "tg_sync_report: " RELEASED " (tg_sync_report_free)");
    tg_sync_report_free(r); /* double free: ignored */

    tg_refresher *f = NULL;
    CHECK_STATUS(tg_refresher_start(e, (const uint8_t *)d.card, strlen(d.card), NULL, 60000, 0, &f, &err), TG_OK);
    CHECK_STATUS(tg_refresher_status_json(f, out, sizeof out, &n, &err), TG_OK);
    tg_refresher_stop(f);
    CHECK_INVALID(tg_refresher_status_json(f, out, sizeof out, &n, &err),
                  "tg_refresher: " RELEASED " (tg_refresher_stop)");
    tg_refresher_stop(f); /* double stop: ignored */
    /* The stopped refresher let go of the directory: the engine closes. */
    CHECK_STATUS(tg_engine_close(e, &err), TG_OK);
    CHECK(remove_dirs(&d));
    END;
}

/* ---------------------------------------------------------------- wrong kinds */

TEST(every_wrong_kind_is_reported_and_frees_nothing) {
    BEGIN;
    tg_error err;
    struct dirs d;
    CHECK(make_dirs(&d));
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_open((const uint8_t *)d.data, strlen(d.data), NULL, &e, &err), TG_OK);
    const tg_snapshot *s = NULL;
    CHECK_STATUS(tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &s, &err), TG_OK);
    tg_stream *st = NULL;
    CHECK_STATUS(tg_stream_new(S("openai"), NULL, 0, &st, &err), TG_OK);
    tg_sync_report *r = NULL;
    CHECK_STATUS(tg_ratecard_pull(e, (const uint8_t *)d.card, strlen(d.card), NULL, &r, &err), TG_OK);
    tg_refresher *f = NULL;
    CHECK_STATUS(tg_refresher_start(e, (const uint8_t *)d.card, strlen(d.card), NULL, 60000, 0, &f, &err), TG_OK);

    const void *handles[5] = {e, s, st, r, f};
    const char *names[5] = {"tg_engine", "tg_snapshot", "tg_stream", "tg_sync_report", "tg_refresher"};
    char want[128];
    for (int k = 0; k < 5; k++) {
        const void *h = handles[k];
        /* Each kind's use, given every other kind's live handle. */
        if (k != 0) {
            snprintf(want, sizeof want, "tg_engine: a %s handle was passed where a tg_engine is expected", names[k]);
            CHECK_INVALID(tg_price_json((const tg_engine *)h, S(EVENT), out, sizeof out, &n, &err), want);
            CHECK_INVALID(tg_engine_close((tg_engine *)(uintptr_t)h, &err), want);
        }
        if (k != 1) {
            snprintf(want, sizeof want, "tg_snapshot: a %s handle was passed where a tg_snapshot is expected", names[k]);
            CHECK_INVALID(tg_snapshot_info((const tg_snapshot *)h, NULL, NULL, &err), want);
        }
        if (k != 2) {
            snprintf(want, sizeof want, "tg_stream: a %s handle was passed where a tg_stream is expected", names[k]);
            CHECK_INVALID(tg_stream_feed((tg_stream *)(uintptr_t)h, S("{"), &err), want);
        }
        if (k != 3) {
            snprintf(want, sizeof want, "tg_sync_report: a %s handle was passed where a tg_sync_report is expected", names[k]);
            CHECK_INVALID(tg_sync_report_json((const tg_sync_report *)h, out, sizeof out, &n, &err), want);
        }
        if (k != 4) {
            snprintf(want, sizeof want, "tg_refresher: a %s handle was passed where a tg_refresher is expected", names[k]);
            CHECK_INVALID(tg_refresher_status_json((const tg_refresher *)h, out, sizeof out, &n, &err), want);
        }
        /* Every other kind's release function, given this handle: ignored. */
        if (k != 0) tg_engine_free((tg_engine *)(uintptr_t)h);
        if (k != 1) tg_snapshot_unpin((const tg_snapshot *)h);
        if (k != 2) tg_stream_free((tg_stream *)(uintptr_t)h);
        if (k != 3) tg_sync_report_free((tg_sync_report *)(uintptr_t)h);
        if (k != 4) tg_refresher_stop((tg_refresher *)(uintptr_t)h);
    }
    /* All five are still live and work. */
    CHECK_STATUS(tg_price_json(e, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_snapshot_price_json(s, S(EVENT), out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_stream_feed(st, S("{"), &err), TG_OK);
    CHECK_STATUS(tg_sync_report_json(r, out, sizeof out, &n, &err), TG_OK);
    CHECK_STATUS(tg_refresher_status_json(f, out, sizeof out, &n, &err), TG_OK);
    tg_refresher_stop(f);
    tg_sync_report_free(r);
    tg_stream_free(st);
    tg_snapshot_unpin(s);
    CHECK_STATUS(tg_engine_close(e, &err), TG_OK);
    CHECK(remove_dirs(&d));
    END;
}

/* ---------------------------------------------------------------- values never issued */

TEST(foreign_pointers_are_refused_without_being_read) {
    BEGIN;
    tg_error err;
    uint64_t stack[8] = {0};
    CHECK_INVALID(tg_price_json((const tg_engine *)stack, S(EVENT), out, sizeof out, &n, &err),
                  "tg_engine: not a handle this library issued");
    /* Freed heap memory: valgrind reports any read of it. */
    void *heap = malloc(4096);
    CHECK(heap != NULL);
    memset(heap, 0x74, 4096);
    /* Kept as an integer: the pointer value itself is what is passed, after the free. */
    volatile uintptr_t addr = (uintptr_t)heap;
    free(heap);
    heap = (void *)addr;
    CHECK_INVALID(tg_snapshot_info((const tg_snapshot *)heap, NULL, NULL, &err), "not a handle this library issued");
    CHECK_INVALID(tg_stream_feed((tg_stream *)heap, S("{"), &err), "not a handle this library issued");
    CHECK_INVALID(tg_sync_report_json((const tg_sync_report *)heap, out, sizeof out, &n, &err),
                  "not a handle this library issued");
    CHECK_INVALID(tg_refresher_status_json((const tg_refresher *)heap, out, sizeof out, &n, &err),
                  "not a handle this library issued");
    CHECK_INVALID(tg_engine_close((tg_engine *)heap, &err), "not a handle this library issued");
    tg_engine_free((tg_engine *)heap);
    tg_snapshot_unpin((const tg_snapshot *)heap);
    tg_stream_free((tg_stream *)heap);
    tg_sync_report_free((tg_sync_report *)heap);
    tg_refresher_stop((tg_refresher *)heap);
    /* Small and all-ones values, and a value shaped like a handle whose slot was never used. */
    CHECK_INVALID(tg_price_json((const tg_engine *)(uintptr_t)1, S(EVENT), out, sizeof out, &n, &err),
                  "not a handle this library issued");
    CHECK_INVALID(tg_price_json((const tg_engine *)UINTPTR_MAX, S(EVENT), out, sizeof out, &n, &err),
                  "not a handle this library issued");
    CHECK_INVALID(tg_price_json((const tg_engine *)(uintptr_t)0x7410000000ffffffULL, S(EVENT), out, sizeof out, &n, &err),
                  "not a handle this library issued");
    CHECK_STATUS(tg_price_json(NULL, S(EVENT), out, sizeof out, &n, &err), TG_ERR_NULL);
    END;
}

/* ---------------------------------------------------------------- threads */

#define THREADS 4
#define ROUNDS 2000

static void *churn(void *arg) {
    const tg_engine *e = arg;
    long bad = 0;
    tg_error err;
    uint8_t buf[4096];
    size_t len;
    for (int i = 0; i < ROUNDS; i++) {
        const tg_snapshot *s = NULL;
        tg_stream *st = NULL;
        if (tg_snapshot_pin(e, TG_SNAPSHOT_CURRENT, &s, &err) != TG_OK) bad++;
        if (tg_stream_new(S("openai"), NULL, 0, &st, &err) != TG_OK) bad++;
        if (tg_snapshot_price_json(s, S(EVENT), buf, sizeof buf, &len, &err) != TG_OK) bad++;
        tg_snapshot_unpin(s);
        tg_stream_free(st);
        /* Other threads create handles meanwhile, reusing these slots: the old values stay
         * dead. */
        if (tg_snapshot_info(s, NULL, NULL, &err) != TG_ERR_INVALID_HANDLE) bad++;
        if (tg_stream_feed(st, S("{"), &err) != TG_ERR_INVALID_HANDLE) bad++;
        tg_snapshot_unpin(s);
        tg_stream_free(st);
    }
    return (void *)bad;
}

TEST(stale_handles_stay_dead_while_threads_reuse_slots) {
    BEGIN;
    tg_error err;
    tg_engine *e = NULL;
    CHECK_STATUS(tg_engine_new(NULL, NULL, 0, &e, &err), TG_OK);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, churn, e) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        CHECK(pthread_join(t[i], &bad) == 0);
        CHECK(bad == NULL);
    }
    tg_engine_free(e);
    END;
}

int main(void) {
    run("engine_use_after_free_and_double_free", engine_use_after_free_and_double_free);
    run("durable_engine_use_after_close", durable_engine_use_after_close);
    run("snapshot_use_after_unpin_and_double_unpin", snapshot_use_after_unpin_and_double_unpin);
    run("stream_use_after_free_and_double_free", stream_use_after_free_and_double_free);
    run("sync_report_and_refresher_use_after_release", sync_report_and_refresher_use_after_release);
    run("every_wrong_kind_is_reported_and_frees_nothing", every_wrong_kind_is_reported_and_frees_nothing);
    run("foreign_pointers_are_refused_without_being_read", foreign_pointers_are_refused_without_being_read);
    run("stale_handles_stay_dead_while_threads_reuse_slots", stale_handles_stay_dead_while_threads_reuse_slots);
    printf("c handles: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
