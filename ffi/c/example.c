/* Example: embed the Tollgate engine from C. */
#include "tollgate.h"

#include <stdio.h>

int main(void) {
    if (tg_abi_version() >> 16 != TG_ABI_VERSION_MAJOR) return 2;
    /* Exact money crosses the boundary as tg_decimal (fixed point, 24 digits of a cent). */
    tg_decimal cost;
    tg_error err;
    if (tg_decimal_parse((const uint8_t *)"0.4245", 6, &cost, &err) != TG_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    uint8_t text[TG_DECIMAL_STRING_MAX];
    size_t len = 0;
    tg_decimal_format(cost, text, sizeof text, &len);
    printf("cost: %.*s cents\n", (int)len, (const char *)text);
    return 0;
}
