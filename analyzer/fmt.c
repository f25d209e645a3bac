/*
 * The table of output formats; each lives in its own fmt_<name>.c.
 */
#include <string.h>

#include "fmt.h"

const struct fmt_ops *fmt_find(const char *name)
{
    static const struct fmt_ops *const all[] = {&fmt_text, &fmt_json, &fmt_csv};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}
