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

/* FNV-1a of the n bytes at p. */
uint64_t hm_hash_bytes(const void *p, size_t n);

/* A set of byte strings (NULs inside allowed), each kept once, with a NUL
 * after it, indexed 0, 1, ... in the order added. */
struct hm_string {
    char *s;
    size_t n;
};
struct hm_strings {
    struct hm_string *items;
    size_t count, cap;
    struct hashmap index; /* hm_hash_bytes -> items index, probing on collision */
};

/* The index of s[0..n) in st, or HM_NONE. */
uint32_t hm_strings_find(const struct hm_strings *st, const char *s, size_t n);
/* The index of s[0..n) in st, a copy added when it was not there (then
 * st->count - 1). */
uint32_t hm_strings_add(struct hm_strings *st, const char *s, size_t n);
void hm_strings_free(struct hm_strings *st);

#endif
