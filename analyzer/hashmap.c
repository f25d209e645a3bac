/*
 * The model's hash map; see hashmap.h. Linear probing over a power-of-two
 * table kept at most half full, keys mixed with a 64-bit finalizer so that
 * addresses and (parent, function) pairs spread well.
 */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t hm_slot(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (size_t)key & mask;
}

uint32_t hm_get(const struct hashmap *m, uint64_t key)
{
    if (!m->mask)
        return HM_NONE;
    for (size_t i = hm_slot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->values[i] == HM_NONE)
            return HM_NONE;
        if (m->keys[i] == key)
            return m->values[i];
    }
}

static void hm_insert(uint64_t *keys, uint32_t *values, size_t mask, uint64_t key,
                      uint32_t value)
{
    size_t i = hm_slot(key, mask);
    while (values[i] != HM_NONE && keys[i] != key)
        i = (i + 1) & mask;
    keys[i] = key;
    values[i] = value;
}

void hm_put(struct hashmap *m, uint64_t key, uint32_t value)
{
    if (!m->mask || (m->count + 1) * 2 > m->mask + 1) {
        size_t slots = m->mask ? (m->mask + 1) * 2 : 64;
        uint64_t *keys = cprof_xmalloc(slots * sizeof(*keys));
        uint32_t *values = cprof_xmalloc(slots * sizeof(*values));
        for (size_t i = 0; i < slots; i++)
            values[i] = HM_NONE;
        for (size_t i = 0; m->mask && i <= m->mask; i++)
            if (m->values[i] != HM_NONE)
                hm_insert(keys, values, slots - 1, m->keys[i], m->values[i]);
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->mask = slots - 1;
    }
    if (hm_get(m, key) == HM_NONE)
        m->count++;
    hm_insert(m->keys, m->values, m->mask, key, value);
}

void hm_free(struct hashmap *m)
{
    free(m->keys);
    free(m->values);
    m->keys = NULL;
    m->values = NULL;
    m->mask = m->count = 0;
}

uint64_t hm_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The index of s[0..n) in st, or HM_NONE with *slot the key a new copy
 * takes. */
static uint32_t hm_strings_probe(const struct hm_strings *st, const char *s, size_t n,
                                 uint64_t *slot)
{
    for (uint64_t h = hm_hash_bytes(s, n);; h++) {
        uint32_t i = hm_get(&st->index, h);
        if (i == HM_NONE) {
            *slot = h;
            return HM_NONE;
        }
        if (st->items[i].n == n && !memcmp(st->items[i].s, s, n))
            return i;
    }
}

uint32_t hm_strings_find(const struct hm_strings *st, const char *s, size_t n)
{
    uint64_t slot;
    return hm_strings_probe(st, s, n, &slot);
}

uint32_t hm_strings_add(struct hm_strings *st, const char *s, size_t n)
{
    uint64_t slot;
    uint32_t i = hm_strings_probe(st, s, n, &slot);
    if (i != HM_NONE)
        return i;
    cprof_grow(&st->items, &st->cap, st->count + 1, sizeof(*st->items));
    st->items[st->count].s = cprof_xstrndup(s, n);
    st->items[st->count].n = n;
    hm_put(&st->index, slot, (uint32_t)st->count);
    return (uint32_t)st->count++;
}

void hm_strings_free(struct hm_strings *st)
{
    for (size_t i = 0; i < st->count; i++)
        free(st->items[i].s);
    free(st->items);
    hm_free(&st->index);
    memset(st, 0, sizeof(*st));
}
