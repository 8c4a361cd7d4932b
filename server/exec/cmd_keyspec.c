/* cmd_keyspec.c — finding a command's keys in its arguments from its key
 * specs (Redis's getKeysUsingKeySpecs), or its getkeys function when the
 * specs cannot say. The one key walk behind routing, intent locks, held
 * requests and COMMAND GETKEYS. Pure: any thread. */
#include <string.h>

#include "common/int64str.h"
#include "server/exec/cmd.h"

/* One spec against argv: its run in *out. Returns 1, or -1 when argv does
 * not hold it (Redis's invalid_spec: out of bounds, a bad count, or a
 * count of zero keys). */
static int spec_range(const struct cmd_key_spec *k, size_t argc, const struct resp_arg *argv,
                      struct cmd_key_range *out)
{
    size_t first = k->begin, last;
    size_t step = k->step > 0 ? (size_t)k->step : 1;
    if (k->unknown)
        return -1; /* (Redis's invalid_spec: the getkeys function decides) */
    if (!k->keynum) {
        if (k->last >= 0) {
            last = first + (size_t)k->last;
        } else if (k->limit == 0) {
            if ((size_t)(-k->last) > argc)
                return -1;
            last = argc - (size_t)(-k->last);
        } else {
            /* Redis asserts lastkey == -1 with a limit: a fraction of the
             * arguments after first. */
            if (first > argc)
                return -1;
            last = first + (argc - first) / (size_t)k->limit - 1;
        }
    } else {
        size_t at = first + (size_t)k->numkeys_at;
        int64_t n;
        /* (Redis compares the relative index with argc; the absolute one
         * must be inside argv anyway.) */
        if ((size_t)k->numkeys_at >= argc || at >= argc ||
            !int64str_parse(argv[at].ptr, argv[at].len, &n) || n < 0 || n > (int64_t)argc)
            return -1;
        first += (size_t)k->first_at;
        if (n == 0)
            return -1;
        last = first + (size_t)n - 1;
    }
    if (last >= argc || last < first || first >= argc)
        return -1;
    out->first = (uint32_t)first;
    out->last = (uint32_t)last;
    out->step = (uint32_t)step;
    out->flags = k->flags;
    return 1;
}

int cmd_keys_init(struct cmd_keys *it, const struct cmd_def *d, size_t argc,
                  const struct resp_arg *argv)
{
    it->n = it->i = 0;
    it->pos = 0;
    int n = 0;
    bool variable = false;
    for (unsigned i = 0; i < d->nkeyspecs; i++)
        variable |= (d->keys[i].flags & CMD_KS_VARIABLE_FLAGS) != 0;
    if (!variable && d->nkeyspecs > 0) {
        for (unsigned i = 0; i < d->nkeyspecs && n >= 0; i++)
            n = spec_range(&d->keys[i], argc, argv, &it->r[n]) < 0 ? -1 : n + 1;
        /* Specs that do not fit fall back on the getkeys function, as in
         * Redis (getKeysFromCommandWithSpecs). */
        if (n < 0 && d->getkeys)
            n = d->getkeys(d, argc, argv, it->r);
    } else if (d->getkeys) {
        n = d->getkeys(d, argc, argv, it->r);
    }
    if (n <= 0) {
        it->n = 0;
        return n;
    }
    /* (A getkeys function gives at most CMD_KEY_SPECS_MAX runs.) */
    it->n = (unsigned)n;
    it->pos = it->r[0].first;
    return n;
}

int cmd_keys_numkeys(size_t argc, const struct resp_arg *argv, size_t numkeys_at, size_t step,
                     uint16_t flags, struct cmd_key_range *out)
{
    int64_t n;
    if (numkeys_at >= argc || !int64str_parse(argv[numkeys_at].ptr, argv[numkeys_at].len, &n) ||
        n < 0)
        return -1;
    if (n == 0)
        return 0;
    if (step == 0)
        step = 1;
    size_t first = numkeys_at + 1;
    /* Bounds before multiplying: n is at most argc here. */
    if ((uint64_t)n > argc || first + ((size_t)n - 1) * step >= argc)
        return -1;
    out->first = (uint32_t)first;
    out->last = (uint32_t)(first + ((size_t)n - 1) * step);
    out->step = (uint32_t)step;
    out->flags = flags;
    return 1;
}
