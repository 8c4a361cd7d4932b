/* cmd_command.c — COMMAND and its subcommands (COUNT, DOCS, GETKEYS,
 * GETKEYSANDFLAGS, HELP, INFO, LIST), answered from the command table
 * with Redis 7.0's reply shapes: flags, ACL categories (the explicit ones
 * plus those the flags and group imply, as Redis's
 * setImplicitACLCategories), tips, key specs and subcommands. Runs on the
 * calling connection's worker thread (CMD_CONN). */
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_server.h"
#include "server/util/glob.h"
#include "server/core/server.h"

/* Names in COMMAND INFO's order (Redis's replyFlagNames tables). */
static const struct {
    uint32_t bit;
    const char *name;
} cmd_flag_names[] = {
    {CMD_WRITE, "write"},        {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},    {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},      {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"},  {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},        {CMD_SKIP_MONITOR, "skip_monitor"},
    {CMD_SKIP_SLOWLOG, "skip_slowlog"}, {CMD_FAST, "fast"},
    {CMD_NOAUTH, "no_auth"},     {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
    {CMD_NO_ASYNC_LOADING, "no_async_loading"}, {CMD_NO_MULTI, "no_multi"},
    {CMD_MOVABLE_KEYS, "movablekeys"}, {CMD_ALLOW_BUSY, "allow_busy"},
};

static const char *const key_flag_names[] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
    "not_key", "incomplete", "variable_flags",
};

static const char *const acl_names[CMD_ACL_COUNT] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash",
    "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin",
    "fast", "slow", "blocking", "dangerous", "connection", "transaction",
    "scripting",
};

/* The data-type category a group implies (Redis's JSON files give every
 * command of a group its category; a container has none). Not pubsub:
 * Redis's @pubsub comes from the pubsub flag alone (PUBSUB HELP, in the
 * group, has no such flag and no @pubsub). */
static uint32_t group_acl(const char *group)
{
    static const struct {
        const char *group;
        uint32_t acl;
    } map[] = {
        {"generic", CMD_ACL_KEYSPACE},   {"string", CMD_ACL_STRING},
        {"list", CMD_ACL_LIST},          {"set", CMD_ACL_SET},
        {"sorted-set", CMD_ACL_SORTEDSET}, {"hash", CMD_ACL_HASH},
        {"connection", CMD_ACL_CONNECTION},
        {"transactions", CMD_ACL_TRANSACTION}, {"scripting", CMD_ACL_SCRIPTING},
        {"stream", CMD_ACL_STREAM},      {"geo", CMD_ACL_GEO},
        {"hyperloglog", CMD_ACL_HYPERLOGLOG}, {"bitmap", CMD_ACL_BITMAP},
    };
    for (size_t i = 0; group && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].group, group) == 0)
            return map[i].acl;
    return 0;
}

uint32_t cmd_command_acl(const struct cmd_def *d)
{
    uint32_t a = d->acl;
    if (!d->subcommands)
        a |= group_acl(d->group) & ~d->acl_drop;
    if (d->flags & CMD_WRITE)
        a |= CMD_ACL_WRITE;
    if ((d->flags & CMD_READONLY) && !(a & CMD_ACL_SCRIPTING))
        a |= CMD_ACL_READ;
    if (d->flags & CMD_ADMIN)
        a |= CMD_ACL_ADMIN | CMD_ACL_DANGEROUS;
    if (d->flags & CMD_PUBSUB)
        a |= CMD_ACL_PUBSUB;
    if (d->flags & CMD_FAST)
        a |= CMD_ACL_FAST;
    if (d->flags & CMD_BLOCKING)
        a |= CMD_ACL_BLOCKING;
    if (!(a & CMD_ACL_FAST))
        a |= CMD_ACL_SLOW;
    return a;
}

static unsigned popcount(uint32_t v)
{
    return (unsigned)__builtin_popcount(v);
}

static void reply_key_flags(struct cmd_ctx *c, uint16_t flags)
{
    resp_set(c->out, c->proto, popcount(flags));
    for (unsigned i = 0; i < sizeof key_flag_names / sizeof key_flag_names[0]; i++)
        if (flags & (1u << i))
            resp_simple(c->out, key_flag_names[i]);
}

static void reply_key_spec(struct cmd_ctx *c, const struct cmd_key_spec *k)
{
    struct rbuf *o = c->out;
    int p = c->proto;
    resp_map(o, p, k->notes ? 4 : 3);
    if (k->notes) {
        resp_bulk_cstr(o, "notes");
        resp_bulk_cstr(o, k->notes);
    }
    resp_bulk_cstr(o, "flags");
    reply_key_flags(c, k->flags);
    resp_bulk_cstr(o, "begin_search");
    resp_map(o, p, 2);
    if (k->unknown) {
        /* (Redis prints both halves as an empty "unknown" spec.) */
        resp_bulk_cstr(o, "type");
        resp_bulk_cstr(o, "unknown");
        resp_bulk_cstr(o, "spec");
        resp_map(o, p, 0);
        resp_bulk_cstr(o, "find_keys");
        resp_map(o, p, 2);
        resp_bulk_cstr(o, "type");
        resp_bulk_cstr(o, "unknown");
        resp_bulk_cstr(o, "spec");
        resp_map(o, p, 0);
        return;
    }
    resp_bulk_cstr(o, "type");
    resp_bulk_cstr(o, "index");
    resp_bulk_cstr(o, "spec");
    resp_map(o, p, 1);
    resp_bulk_cstr(o, "index");
    resp_int(o, k->begin);
    resp_bulk_cstr(o, "find_keys");
    resp_map(o, p, 2);
    resp_bulk_cstr(o, "type");
    resp_bulk_cstr(o, k->keynum ? "keynum" : "range");
    resp_bulk_cstr(o, "spec");
    resp_map(o, p, 3);
    if (k->keynum) {
        resp_bulk_cstr(o, "keynumidx");
        resp_int(o, k->numkeys_at);
        resp_bulk_cstr(o, "firstkey");
        resp_int(o, k->first_at);
        resp_bulk_cstr(o, "keystep");
        resp_int(o, k->step);
    } else {
        resp_bulk_cstr(o, "lastkey");
        resp_int(o, k->last);
        resp_bulk_cstr(o, "keystep");
        resp_int(o, k->step);
        resp_bulk_cstr(o, "limit");
        resp_int(o, k->limit);
    }
}

/* One COMMAND INFO entry: Redis 7's ten fields. */
static void command_info(struct cmd_ctx *c, const struct cmd_def *d)
{
    struct rbuf *o = c->out;
    int p = c->proto;
    resp_array(o, 10);
    resp_bulk_cstr(o, d->name);
    resp_int(o, d->arity);
    uint32_t shown = d->flags & CMD_REDIS_FLAGS;
    size_t nf = 0;
    for (size_t i = 0; i < sizeof cmd_flag_names / sizeof cmd_flag_names[0]; i++)
        nf += (shown & cmd_flag_names[i].bit) != 0;
    resp_set(o, p, nf);
    for (size_t i = 0; i < sizeof cmd_flag_names / sizeof cmd_flag_names[0]; i++)
        if (shown & cmd_flag_names[i].bit)
            resp_simple(o, cmd_flag_names[i].name);
    resp_int(o, d->first_key);
    resp_int(o, d->last_key);
    resp_int(o, d->key_step);
    uint32_t acl = cmd_command_acl(d);
    resp_set(o, p, popcount(acl));
    for (unsigned i = 0; i < CMD_ACL_COUNT; i++) {
        if (acl & (1u << i)) {
            char cat[24];
            cat[0] = '@';
            strcpy(cat + 1, acl_names[i]);
            resp_simple(o, cat);
        }
    }
    size_t nt = 0;
    while (d->tips && d->tips[nt])
        nt++;
    resp_set(o, p, nt);
    for (size_t i = 0; i < nt; i++)
        resp_bulk_cstr(o, d->tips[i]);
    resp_set(o, p, d->nkeyspecs);
    for (unsigned i = 0; i < d->nkeyspecs; i++)
        reply_key_spec(c, &d->keys[i]);
    if (!d->nsubs) {
        resp_set(o, p, 0);
        return;
    }
    resp_array(o, d->nsubs);
    for (size_t i = 0; i < d->nsubs; i++)
        command_info(c, &d->subs[i]);
}

/* One COMMAND DOCS entry (name, then its map): what the table holds of
 * Redis's docs: summary, since, group, complexity, subcommands. */
static void command_docs_one(struct cmd_ctx *c, const struct cmd_def *d)
{
    struct rbuf *o = c->out;
    resp_bulk_cstr(o, d->name);
    resp_map(o, c->proto,
             1 + (d->summary != NULL) + (d->since != NULL) + (d->complexity != NULL) +
                 (d->nsubs > 0));
    if (d->summary) {
        resp_bulk_cstr(o, "summary");
        resp_bulk_cstr(o, d->summary);
    }
    if (d->since) {
        resp_bulk_cstr(o, "since");
        resp_bulk_cstr(o, d->since);
    }
    resp_bulk_cstr(o, "group");
    resp_bulk_cstr(o, d->group ? d->group : "generic");
    if (d->complexity) {
        resp_bulk_cstr(o, "complexity");
        resp_bulk_cstr(o, d->complexity);
    }
    if (d->nsubs) {
        resp_bulk_cstr(o, "subcommands");
        resp_map(o, c->proto, d->nsubs);
        for (size_t i = 0; i < d->nsubs; i++)
            command_docs_one(c, &d->subs[i]);
    }
}

/* COMMAND with no subcommand: every command's INFO. */
void cmd_command_exec(struct cmd_ctx *c)
{
    size_t n;
    const struct cmd_def *t = cmd_table(&n);
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        command_info(c, &t[i]);
}

static void command_count_exec(struct cmd_ctx *c)
{
    size_t n;
    (void)cmd_table(&n);
    resp_int(c->out, (int64_t)n);
}

static void command_info_exec(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        cmd_command_exec(c);
        return;
    }
    resp_array(c->out, c->argc - 2);
    for (size_t j = 2; j < c->argc; j++) {
        const struct cmd_def *d = cmd_lookup(c->argv[j].ptr, c->argv[j].len);
        if (d)
            command_info(c, d);
        else
            resp_null_array(c->out, c->proto);
    }
}

static void command_docs_exec(struct cmd_ctx *c)
{
    size_t n;
    const struct cmd_def *t = cmd_table(&n);
    if (c->argc == 2) {
        resp_map(c->out, c->proto, n);
        for (size_t i = 0; i < n; i++)
            command_docs_one(c, &t[i]);
        return;
    }
    size_t found = 0;
    for (size_t j = 2; j < c->argc; j++)
        found += cmd_lookup(c->argv[j].ptr, c->argv[j].len) != NULL;
    resp_map(c->out, c->proto, found);
    for (size_t j = 2; j < c->argc; j++) {
        const struct cmd_def *d = cmd_lookup(c->argv[j].ptr, c->argv[j].len);
        if (d)
            command_docs_one(c, d);
    }
}

/* COMMAND LIST's filter: does d pass? */
struct list_filter {
    const struct resp_arg *pattern; /* FILTERBY PATTERN, or NULL */
    uint32_t acl;                   /* FILTERBY ACLCAT's category, or 0 */
    bool none;                      /* FILTERBY MODULE or an unknown category */
};

static bool list_passes(const struct list_filter *f, const struct cmd_def *d)
{
    if (f->none)
        return false;
    if (f->acl)
        return (cmd_command_acl(d) & f->acl) != 0;
    if (f->pattern)
        return glob_match(f->pattern->ptr, f->pattern->len, d->name, strlen(d->name), true);
    return true;
}

/* Every command and (as Redis lists them) subcommand that passes f,
 * counted first (count true) or written. */
static size_t list_walk(struct cmd_ctx *c, const struct list_filter *f, bool count)
{
    size_t n, found = 0;
    const struct cmd_def *t = cmd_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (list_passes(f, &t[i])) {
            found++;
            if (!count)
                resp_bulk_cstr(c->out, t[i].name);
        }
        for (size_t s = 0; s < t[i].nsubs; s++) {
            if (!list_passes(f, &t[i].subs[s]))
                continue;
            found++;
            if (!count)
                resp_bulk_cstr(c->out, t[i].subs[s].name);
        }
    }
    return found;
}

static void command_list_exec(struct cmd_ctx *c)
{
    struct list_filter f = {0};
    if (c->argc != 2) {
        if (c->argc != 5 || !cmd_arg_eq(&c->argv[2], "filterby")) {
            resp_error(c->out, "ERR syntax error");
            return;
        }
        const struct resp_arg *v = &c->argv[4];
        if (cmd_arg_eq(&c->argv[3], "pattern")) {
            f.pattern = v;
        } else if (cmd_arg_eq(&c->argv[3], "aclcat")) {
            for (unsigned i = 0; i < CMD_ACL_COUNT; i++)
                if (cmd_arg_eq(v, acl_names[i]))
                    f.acl = 1u << i;
            f.none = f.acl == 0;
        } else if (cmd_arg_eq(&c->argv[3], "module")) {
            f.none = true; /* no modules */
        } else {
            resp_error(c->out, "ERR syntax error");
            return;
        }
    }
    resp_array(c->out, list_walk(c, &f, true));
    list_walk(c, &f, false);
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS: Redis's getKeysSubcommandImpl. */
static void getkeys(struct cmd_ctx *c, bool with_flags)
{
    size_t argc = c->argc - 2;
    const struct resp_arg *argv = c->argv + 2;
    const struct cmd_def *container;
    const struct cmd_def *d = cmd_lookup_argv(argc, argv, &container);
    if (!d) {
        resp_error(c->out, "ERR Invalid command specified");
        return;
    }
    if (!d->nkeyspecs && !d->getkeys) {
        resp_error(c->out, "ERR The command has no key arguments");
        return;
    }
    if (!cmd_arity_ok(d, argc)) {
        resp_error(c->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    struct cmd_keys it;
    if (cmd_keys_init(&it, d, argc, argv) <= 0) {
        if (d->flags & CMD_NO_MANDATORY_KEYS)
            resp_array(c->out, 0);
        else
            resp_error(c->out, "ERR Invalid arguments specified for command");
        return;
    }
    size_t n = 0, pos;
    uint16_t flags;
    struct cmd_keys count = it;
    while (cmd_keys_next(&count, &pos, NULL))
        n++;
    resp_array(c->out, n);
    while (cmd_keys_next(&it, &pos, &flags)) {
        if (with_flags)
            resp_array(c->out, 2);
        resp_bulk(c->out, argv[pos].ptr, argv[pos].len);
        if (with_flags)
            reply_key_flags(c, flags);
    }
}

static void command_getkeys_exec(struct cmd_ctx *c)
{
    getkeys(c, false);
}

static void command_getkeysandflags_exec(struct cmd_ctx *c)
{
    getkeys(c, true);
}

static const char *const command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void command_help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, command_help);
}

const struct cmd_def cmd_command_subs[] = {
    { .name = "command|count", .arity = 2, .exec = command_count_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .group = "server", .since = "2.8.13",
      .complexity = "O(1)",
      .summary = "Get total number of Redis commands" },
    { .name = "command|docs", .arity = -2, .exec = command_docs_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "server", .since = "7.0.0",
      .complexity = "O(N) where N is the number of commands to look up",
      .summary = "Get array of specific Redis command documentation" },
    { .name = "command|getkeys", .arity = -4, .exec = command_getkeys_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .group = "server", .since = "2.8.13",
      .complexity = "O(N) where N is the number of arguments to the command",
      .summary = "Extract keys given a full Redis command" },
    { .name = "command|getkeysandflags", .arity = -4, .exec = command_getkeysandflags_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .group = "server", .since = "7.0.0",
      .complexity = "O(N) where N is the number of arguments to the command",
      .summary = "Extract keys and access flags given a full Redis command" },
    { .name = "command|help", .arity = 2, .exec = command_help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .group = "server", .since = "5.0.0",
      .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "command|info", .arity = -2, .exec = command_info_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "server", .since = "2.8.13",
      .complexity = "O(N) where N is the number of commands to look up",
      .summary = "Get array of specific Redis command details, or all when no argument is given." },
    { .name = "command|list", .arity = -2, .exec = command_list_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .acl = CMD_ACL_CONNECTION,
      .tips = CMD_TIPS("nondeterministic_output_order"),
      .group = "server", .since = "7.0.0",
      .complexity = "O(N) where N is the total number of Redis commands",
      .summary = "Get an array of Redis command names" },
    { .name = NULL },
};
