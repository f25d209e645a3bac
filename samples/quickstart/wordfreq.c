/*
 * wordfreq: counts word frequencies in generated text and prints the most
 * common words: a small program with a realistic shape (a tokenizer, a hash
 * table, a sort) for the README's quick start. Deterministic, so its call
 * counts are exact and the same on every run (see `expected`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS 200000
#define BUCKETS 4096

struct entry {
    char word[16];
    int count;
    struct entry *next;
};

static struct entry *table[BUCKETS];
static struct entry pool[1024];
static int used;
static unsigned long rng = 12345;

static unsigned next_random(void)
{
    rng = rng * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)(rng >> 33);
}

/* Writes a word of a skewed vocabulary of 676 words into buf. */
static void make_word(char *buf)
{
    unsigned r = next_random() % 1000;
    unsigned w = r < 500 ? r % 26 : r % 676;
    buf[0] = (char)('a' + w / 26);
    buf[1] = (char)('a' + w % 26);
    buf[2] = 0;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void count_word(const char *w)
{
    struct entry **slot = &table[hash(w) % BUCKETS];
    for (struct entry *e = *slot; e; e = e->next)
        if (strcmp(e->word, w) == 0) {
            e->count++;
            return;
        }
    struct entry *e = &pool[used++];
    strcpy(e->word, w);
    e->count = 1;
    e->next = *slot;
    *slot = e;
}

static int by_count(const struct entry *a, const struct entry *b)
{
    if (a->count != b->count)
        return b->count - a->count;
    return strcmp(a->word, b->word);
}

/* Insertion sort through a comparison function, as C code often does. */
static void sort_entries(struct entry *v, int n,
                         int (*cmp)(const struct entry *, const struct entry *))
{
    for (int i = 1; i < n; i++) {
        struct entry x = v[i];
        int j = i;
        while (j > 0 && cmp(&v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

int main(void)
{
    char word[16];
    for (int i = 0; i < WORDS; i++) {
        make_word(word);
        count_word(word);
    }
    sort_entries(pool, used, by_count);
    printf("%d distinct words; most common:\n", used);
    for (int i = 0; i < 5; i++)
        printf("  %-4s %d\n", pool[i].word, pool[i].count);
    return 0;
}
