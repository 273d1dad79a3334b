/* The small harness every C suite here shares: CHECK / CHECK_STATUS inside a TEST body
 * (BEGIN ... END), run() to call one test and count it. One translation unit per suite, so
 * the counters are file-static. A suite that wants a richer CHECK_STATUS defines it before
 * including this file. */
#ifndef TOLLGATE_C_CHECK_H
#define TOLLGATE_C_CHECK_H

#include "tollgate.h"

#include <stdio.h>

static int passed, failed;
static const char *current;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n", current, __FILE__, __LINE__, #cond);  \
            failed_here = 1;                                                               \
        }                                                                                  \
    } while (0)

#ifndef CHECK_STATUS
#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        int32_t got_ = (expr);                                                             \
        if (got_ != (want)) {                                                              \
            fprintf(stderr, "FAIL %s (%s:%d): %s = %d (%s), want %d\n", current, __FILE__,  \
                    __LINE__, #expr, got_, tg_status_str(got_), (want));                   \
            failed_here = 1;                                                               \
        }                                                                                  \
    } while (0)
#endif

#define TEST(name) static void name(int *failed_out)
#define BEGIN int failed_here = 0
#define END *failed_out = failed_here

static void run(const char *name, void (*fn)(int *)) {
    int f = 0;
    current = name;
    fn(&f);
    if (f) {
        failed++;
        fprintf(stderr, "--- %s FAILED\n", name);
    } else {
        passed++;
        printf("ok  %s\n", name);
    }
}

#endif
