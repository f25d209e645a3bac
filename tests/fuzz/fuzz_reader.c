/*
 * libFuzzer target for everything that reads a .cprof file: the reader,
 * the model (node records, trace replay, heap records and leaks) and the
 * per-function view.
 * Whatever the bytes, loading must end in data or a clean error, never a
 * crash, a leak or undefined behaviour. Symbolization is left out: it
 * would open whatever paths the input names.
 */
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model m;
    model_init(&m);
    char msg[256];
    if (model_load_mem(&m, "fuzz.cprof", data, size, msg, sizeof msg) == 0) {
        struct profile pf;
        profile_build(&m, NULL, &pf);
        profile_sort(&pf, PF_SORT_TOTAL);
        profile_sort(&pf, PF_SORT_DELTA);
        profile_free(&pf);
        struct m_heap_totals heap;
        model_heap_totals(&m, &heap);
    }
    model_free(&m);
    return 0;
}
