/* rdbtool.c — test-only command-line front end to shard/rdb.h, so that the
 * Python interoperability tests can write RDB files with our writer and read
 * redis-server's files with our loader. Single-threaded.
 *
 *   rdbtool write FILE < lines   lines "DB KEYHEX VALHEX EXPIRE_MS" (expire
 *                                -1 = none); keys of one db may be spread
 *                                out, they are grouped per db on output
 *   rdbtool dump [--skip] FILE   the same line format on stdout, one line
 *                                per string key; a summary on stderr
 *
 * Exit status 0 on success; 1 with "rdbtool: ..." on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shard/rdb.h"

/* One input line. */
struct rec {
    uint32_t db;       /* database number */
    char *key, *val;   /* decoded bytes (owned) */
    size_t klen, vlen; /* their lengths */
    int64_t expire_ms; /* absolute expiry in Unix ms, or -1 */
};

static int die(const char *msg)
{
    fprintf(stderr, "rdbtool: %s\n", msg);
    return 1;
}

static void put_hex(FILE *f, const char *p, size_t n)
{
    if (n == 0)
        fputc('-', f); /* an empty field would vanish between spaces */
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", (unsigned char)p[i]);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex text ("-" is empty) into a new buffer. Returns NULL if bad. */
static char *from_hex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *out;

    if (strcmp(s, "-") == 0)
        n = 0;
    if (n % 2)
        return NULL;
    out = malloc(n / 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

static void free_recs(struct rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(recs[i].key);
        free(recs[i].val);
    }
    free(recs);
}

/* Read every input line into *out. Returns NULL on success or a message. */
static const char *read_recs(struct rec **out, size_t *count)
{
    struct rec *recs = NULL;
    size_t n = 0, cap = 0, linecap = 0;
    char *line = NULL;
    const char *err = NULL;

    while (getline(&line, &linecap, stdin) > 0) {
        char *save = NULL, *f[4];
        int nf = 0;
        if (line[0] == '\n')
            continue;
        for (char *t = strtok_r(line, " \n", &save); t && nf < 4; t = strtok_r(NULL, " \n", &save))
            f[nf++] = t;
        if (nf != 4) {
            err = "bad input line";
            break;
        }
        if (n == cap) {
            struct rec *r = realloc(recs, (cap ? cap * 2 : 64) * sizeof *recs);
            if (!r) {
                err = "out of memory";
                break;
            }
            recs = r;
            cap = cap ? cap * 2 : 64;
        }
        recs[n].db = (uint32_t)strtoul(f[0], NULL, 10);
        recs[n].expire_ms = strtoll(f[3], NULL, 10);
        recs[n].key = from_hex(f[1], &recs[n].klen);
        recs[n].val = from_hex(f[2], &recs[n].vlen);
        n++;
        if (!recs[n - 1].key || !recs[n - 1].val) {
            err = "bad hex in input";
            break;
        }
    }
    free(line);
    *out = recs;
    *count = n;
    return err;
}

/* Write the records, db by db in ascending order, to fd. */
static int write_recs(int fd, const struct rec *recs, size_t n)
{
    struct rdb_writer *w = malloc(sizeof *w);
    int rc;

    if (!w)
        return RDB_ENOMEM;
    rdb_writer_init(w, rdb_fd_write, &fd);
    rc = rdb_writer_begin(w, (int64_t)time(NULL), 1000000);
    for (uint64_t db = 0; rc == 0 && db <= UINT32_MAX;) {
        uint64_t keys = 0, expires = 0, next = UINT64_MAX;
        for (size_t i = 0; i < n; i++) {
            if (recs[i].db == db) {
                keys++;
                expires += recs[i].expire_ms >= 0;
            } else if (recs[i].db > db && recs[i].db < next) {
                next = recs[i].db;
            }
        }
        if (keys) {
            rc = rdb_writer_select_db(w, (uint32_t)db, keys, expires);
            for (size_t i = 0; rc == 0 && i < n; i++)
                if (recs[i].db == db)
                    rc = rdb_writer_string(w, recs[i].key, recs[i].klen, recs[i].val, recs[i].vlen,
                                           recs[i].expire_ms);
        }
        db = next;
    }
    if (rc == 0)
        rc = rdb_writer_end(w);
    free(w);
    return rc;
}

static int cmd_write(const char *path)
{
    struct rec *recs;
    size_t n;
    char tmp[4096];
    const char *err = read_recs(&recs, &n);
    int fd, rc;

    if (err) {
        free_recs(recs, n);
        return die(err);
    }
    /* Write to a temporary name, fsync, rename: how a snapshot is saved. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free_recs(recs, n);
        return die(strerror(errno));
    }
    rc = write_recs(fd, recs, n);
    free_recs(recs, n);
    if (rc != 0) {
        close(fd);
        unlink(tmp);
        return die(rdb_strerror(rc));
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0)
        return die(strerror(errno));
    return 0;
}

static int on_string(void *arg, uint64_t db, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t expire_ms)
{
    printf("%" PRIu64 " ", db);
    put_hex(stdout, key, klen);
    putchar(' ');
    put_hex(stdout, val, vlen);
    printf(" %" PRId64 "\n", expire_ms);
    return 0;
}

static int cmd_dump(const char *path, unsigned flags)
{
    struct rdb_load_opts o = {.flags = flags, .on_string = on_string};
    struct rdb_load_result res;
    int fd = open(path, O_RDONLY);
    int rc;

    if (fd < 0)
        return die(strerror(errno));
    rc = rdb_load(rdb_fd_read, &fd, &o, &res);
    close(fd);
    fflush(stdout);
    if (rc != 0) {
        fprintf(stderr, "rdbtool: %s: %s\n", rdb_strerror(rc), res.msg);
        return 1;
    }
    fprintf(stderr,
            "rdbtool: version %d, %" PRIu64 " bytes, %" PRIu64 " keys, %" PRIu64
            " expires, %" PRIu64 " skipped, crc %s\n",
            res.version, res.bytes, res.keys, res.expires, res.skipped,
            res.crc_checked ? "checked" : "absent");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2]);
    if (argc == 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2], 0);
    if (argc == 4 && strcmp(argv[1], "dump") == 0 && strcmp(argv[2], "--skip") == 0)
        return cmd_dump(argv[3], RDB_LOAD_SKIP_NON_STRING);
    fprintf(stderr, "usage: rdbtool write FILE < lines | rdbtool dump [--skip] FILE\n");
    return 2;
}
