/*
 * An open-addressing hash map from 64-bit keys to 32-bit values, the one the
 * model uses for call-tree children, node ids and function addresses. Keys
 * may be any value; values must not be HM_NONE.
 */
#ifndef CPROF_HASHMAP_H
#define CPROF_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

#define HM_NONE UINT32_MAX

struct hashmap {
    uint64_t *keys;
    uint32_t *values; /* HM_NONE marks an empty slot */
    size_t mask;      /* slots - 1; 0 before the first insertion */
    size_t count;
};

/* The value stored for key, or HM_NONE. */
uint32_t hm_get(const struct hashmap *m, uint64_t key);
/* Stores value for key, replacing any previous one. */
void hm_put(struct hashmap *m, uint64_t key, uint32_t value);
void hm_free(struct hashmap *m);

#endif
