/* test_cmd_string.c — the string commands run against a real kvmap through a
 * hand-built cmd_ctx; every reply is checked byte for byte against what
 * Redis 7.0 sends. Single-threaded: the test thread owns the map. */
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd_harness.h"

#define NOTFLOAT "-ERR value is not a valid float\r\n"
#define TOOBIG "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"

TestSuite(cmd_string, .init = setup, .fini = teardown);

Test(cmd_string, get_set_basic)
{
    EXPECT("$-1\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SET", "k", "hello");
    EXPECT("$5\r\nhello\r\n", "get", "k");
    EXPECT("+OK\r\n", "set", "k", "");
    EXPECT("$0\r\n\r\n", "GET", "k");
    proto = RESP3;
    EXPECT("_\r\n", "GET", "missing");
}

Test(cmd_string, binary_safe_values_and_keys)
{
    static const char key[] = "k\0\r\n";
    static const char val[] = "a\0b\r\n\xff";
    struct resp_arg set[] = { { "SET", 3 }, { key, sizeof key - 1 }, { val, sizeof val - 1 } };
    struct resp_arg get[] = { { "GET", 3 }, { key, sizeof key - 1 } };
    struct resp_arg get2[] = { { "GET", 3 }, { "k", 1 } };

    exec_argv(3, set);
    check_reply("+OK\r\n", 5, "set binary");
    exec_argv(2, get);
    static const char want[] = "$6\r\na\0b\r\n\xff\r\n";
    check_reply(want, sizeof want - 1, "get binary");
    exec_argv(2, get2);
    check_reply("$-1\r\n", 5, "prefix key is another key");
}

Test(cmd_string, set_nx_xx)
{
    EXPECT("$-1\r\n", "SET", "k", "v", "XX");
    EXPECT("$-1\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SET", "k", "v", "nx");
    EXPECT("$-1\r\n", "SET", "k", "w", "NX");
    EXPECT("$1\r\nv\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SET", "k", "w", "xx");
    EXPECT("$1\r\nw\r\n", "GET", "k");
    /* Repeating an option is allowed, mixing exclusive ones is not. */
    EXPECT("+OK\r\n", "SET", "k", "x", "XX", "XX");
    EXPECT(SYNTAX, "SET", "k", "v", "NX", "XX");
    EXPECT(SYNTAX, "SET", "k", "v", "XX", "NX");
    EXPECT(SYNTAX, "SET", "k", "v", "NXX");
    EXPECT(SYNTAX, "SET", "k", "v", "PERSIST");
    proto = RESP3;
    EXPECT("_\r\n", "SET", "k", "v", "NX");
}

Test(cmd_string, set_get_option)
{
    /* SET ... GET on a missing key: null, and the key is set. */
    EXPECT("$-1\r\n", "SET", "k", "v1", "GET");
    EXPECT("$2\r\nv1\r\n", "GET", "k");
    EXPECT("$2\r\nv1\r\n", "SET", "k", "v2", "GET");
    EXPECT("$2\r\nv2\r\n", "GET", "k");
    /* NX with GET: the old value, and nothing written. */
    EXPECT("$2\r\nv2\r\n", "SET", "k", "v3", "NX", "GET");
    EXPECT("$2\r\nv2\r\n", "GET", "k");
    /* XX with GET on a missing key: null and nothing written. */
    EXPECT("$-1\r\n", "SET", "m", "v", "GET", "XX");
    EXPECT("$-1\r\n", "GET", "m");
    /* The old value of an integer-encoded key comes back as text. */
    EXPECT("+OK\r\n", "SET", "n", "12345678901");
    EXPECT("$11\r\n12345678901\r\n", "SET", "n", "x", "GET");
}

Test(cmd_string, set_expire_options)
{
    EXPECT("+OK\r\n", "SET", "k", "v", "EX", "100");
    EXPECT(":100000\r\n", "PTTL", "k");
    EXPECT("+OK\r\n", "SET", "k", "v", "PX", "1500");
    EXPECT(":1500\r\n", "PTTL", "k");
    EXPECT("+OK\r\n", "SET", "k", "v", "EXAT", "1800000000");
    EXPECT(":1800000000000\r\n", "PEXPIRETIME", "k");
    EXPECT("+OK\r\n", "SET", "k", "v", "PXAT", "1800000000123");
    EXPECT(":1800000000123\r\n", "PEXPIRETIME", "k");
    /* KEEPTTL keeps it, a plain SET drops it. */
    EXPECT("+OK\r\n", "SET", "k", "w", "KEEPTTL");
    EXPECT(":1800000000123\r\n", "PEXPIRETIME", "k");
    EXPECT("+OK\r\n", "SET", "k", "w");
    EXPECT(":-1\r\n", "PTTL", "k");
    /* The same expire option twice: the last one wins. */
    EXPECT("+OK\r\n", "SET", "k", "v", "EX", "10", "EX", "20");
    EXPECT(":20\r\n", "TTL", "k");
    /* An absolute time in the past: +OK and the key is gone. */
    EXPECT("+OK\r\n", "SET", "k", "v", "EXAT", "1");
    EXPECT("$-1\r\n", "GET", "k");
    EXPECT(":-2\r\n", "TTL", "k");
}

Test(cmd_string, set_expire_errors)
{
    EXPECT(SYNTAX, "SET", "k", "v", "EX");
    EXPECT(SYNTAX, "SET", "k", "v", "EX", "10", "PX", "10");
    EXPECT(SYNTAX, "SET", "k", "v", "PX", "10", "EXAT", "10");
    EXPECT(SYNTAX, "SET", "k", "v", "KEEPTTL", "EX", "10");
    EXPECT(SYNTAX, "SET", "k", "v", "PXAT", "10", "KEEPTTL");
    EXPECT(NOTINT, "SET", "k", "v", "EX", "ten");
    EXPECT(NOTINT, "SET", "k", "v", "EX", "1.5");
    EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EX", "0");
    EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "PX", "-1");
    EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EXAT", "0");
    /* Seconds that overflow when turned into ms, and ms that overflow when
     * the clock is added. */
    EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "EX", "9223372036854776");
    EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "k", "v", "PX",
           "9223372036854775807");
    EXPECT(NOTINT, "SET", "k", "v", "PX", "9223372036854775808");
    /* None of these wrote anything. */
    EXPECT("$-1\r\n", "GET", "k");
    cr_assert_eq(kvmap_count(db), 0);
}

Test(cmd_string, setnx_setex_psetex)
{
    EXPECT(":1\r\n", "SETNX", "k", "a");
    EXPECT(":0\r\n", "SETNX", "k", "b");
    EXPECT("$1\r\na\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SETEX", "k", "30", "c");
    EXPECT(":30\r\n", "TTL", "k");
    EXPECT("$1\r\nc\r\n", "GET", "k");
    EXPECT("+OK\r\n", "PSETEX", "k", "2500", "d");
    EXPECT(":2500\r\n", "PTTL", "k");
    EXPECT("-ERR invalid expire time in 'setex' command\r\n", "SETEX", "k", "0", "v");
    EXPECT("-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "k", "-5", "v");
    EXPECT(NOTINT, "SETEX", "k", "x", "v");
    EXPECT("-ERR wrong number of arguments for 'setex' command\r\n", "SETEX", "k", "1");
    EXPECT("$1\r\nd\r\n", "GET", "k");
}

Test(cmd_string, getset_getdel)
{
    EXPECT("$-1\r\n", "GETSET", "k", "a");
    EXPECT("$1\r\na\r\n", "GETSET", "k", "b");
    EXPECT("$1\r\nb\r\n", "GET", "k");
    /* GETSET drops the TTL like SET. */
    EXPECT(":1\r\n", "EXPIRE", "k", "100");
    EXPECT("$1\r\nb\r\n", "GETSET", "k", "c");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT("$1\r\nc\r\n", "GETDEL", "k");
    EXPECT("$-1\r\n", "GETDEL", "k");
    EXPECT("$-1\r\n", "GET", "k");
    cr_assert_eq(kvmap_count(db), 0);
}

Test(cmd_string, getex)
{
    EXPECT("$-1\r\n", "GETEX", "k");
    /* On a missing key the expire value is not even parsed. */
    EXPECT("$-1\r\n", "GETEX", "k", "EX", "0");
    EXPECT("$-1\r\n", "GETEX", "k", "EX", "abc");
    /* ... but the option grammar is. */
    EXPECT(SYNTAX, "GETEX", "k", "NX");
    EXPECT(SYNTAX, "GETEX", "k", "KEEPTTL");
    EXPECT(SYNTAX, "GETEX", "k", "GET");
    EXPECT(SYNTAX, "GETEX", "k", "EX");
    EXPECT(SYNTAX, "GETEX", "k", "EX", "1", "PERSIST");
    EXPECT(SYNTAX, "GETEX", "k", "PERSIST", "PX", "1");

    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT("$1\r\nv\r\n", "GETEX", "k");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT("$1\r\nv\r\n", "GETEX", "k", "EX", "50");
    EXPECT(":50\r\n", "TTL", "k");
    EXPECT("$1\r\nv\r\n", "GETEX", "k", "PX", "700");
    EXPECT(":700\r\n", "PTTL", "k");
    EXPECT("$1\r\nv\r\n", "GETEX", "k", "PXAT", "1800000000000");
    EXPECT(":1800000000000\r\n", "PEXPIRETIME", "k");
    EXPECT("$1\r\nv\r\n", "GETEX", "k", "PERSIST");
    EXPECT(":-1\r\n", "PTTL", "k");
    EXPECT("-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX", "0");
    EXPECT("-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX",
           "9223372036854776");
    EXPECT(NOTINT, "GETEX", "k", "PX", "1x");
    EXPECT(":-1\r\n", "PTTL", "k");
    /* An absolute time in the past: the value, then the key is gone. */
    EXPECT("$1\r\nv\r\n", "GETEX", "k", "EXAT", "1000");
    EXPECT(":-2\r\n", "PTTL", "k");
}

Test(cmd_string, append)
{
    EXPECT(":5\r\n", "APPEND", "k", "hello");
    EXPECT(":11\r\n", "APPEND", "k", " world");
    EXPECT("$11\r\nhello world\r\n", "GET", "k");
    EXPECT(":11\r\n", "APPEND", "k", "");
    /* APPEND to a missing key with an empty value creates the key. */
    EXPECT(":0\r\n", "APPEND", "e", "");
    EXPECT("+string\r\n", "TYPE", "e");
    /* APPEND keeps the TTL. */
    EXPECT(":1\r\n", "PEXPIRE", "k", "9000");
    EXPECT(":12\r\n", "APPEND", "k", "!");
    EXPECT(":9000\r\n", "PTTL", "k");
}

Test(cmd_string, append_to_int_encoded)
{
    /* Long enough that kvmap stores it as an int64. */
    EXPECT("+OK\r\n", "SET", "n", "1234567890");
    EXPECT(":12\r\n", "APPEND", "n", "12");
    EXPECT("$12\r\n123456789012\r\n", "GET", "n");
    EXPECT(":123456789013\r\n", "INCR", "n");
    EXPECT(":13\r\n", "APPEND", "n", "x");
    EXPECT("$13\r\n123456789013x\r\n", "GET", "n");
    /* INCR on a missing key makes an integer; APPEND turns it into text. */
    EXPECT(":-7\r\n", "DECRBY", "m", "7");
    EXPECT(":4\r\n", "APPEND", "m", "00");
    EXPECT("$4\r\n-700\r\n", "GET", "m");
    EXPECT(":-699\r\n", "INCR", "m");
}

Test(cmd_string, strlen)
{
    EXPECT(":0\r\n", "STRLEN", "k");
    EXPECT("+OK\r\n", "SET", "k", "abc");
    EXPECT(":3\r\n", "STRLEN", "k");
    EXPECT("+OK\r\n", "SET", "n", "-9223372036854775808");
    EXPECT(":20\r\n", "STRLEN", "n");
    EXPECT(":-9223372036854775807\r\n", "INCR", "n");
    EXPECT(":20\r\n", "STRLEN", "n");
}

Test(cmd_string, getrange)
{
    EXPECT("$0\r\n\r\n", "GETRANGE", "k", "0", "-1");
    EXPECT(NOTINT, "GETRANGE", "k", "a", "1");
    EXPECT(NOTINT, "GETRANGE", "k", "0", "1.0");
    EXPECT("+OK\r\n", "SET", "k", "Hello World");
    EXPECT("$4\r\nHell\r\n", "GETRANGE", "k", "0", "3");
    EXPECT("$3\r\nrld\r\n", "GETRANGE", "k", "-3", "-1");
    EXPECT("$11\r\nHello World\r\n", "GETRANGE", "k", "0", "-1");
    EXPECT("$1\r\nd\r\n", "GETRANGE", "k", "10", "100");
    EXPECT("$0\r\n\r\n", "GETRANGE", "k", "11", "100");
    EXPECT("$0\r\n\r\n", "GETRANGE", "k", "5", "3");
    /* Both negative with start > end: empty before any clamping. */
    EXPECT("$0\r\n\r\n", "GETRANGE", "k", "-1", "-5");
    /* Both clamp to 0: the first byte (Redis 7.0 does the same). */
    EXPECT("$1\r\nH\r\n", "GETRANGE", "k", "-100", "-50");
    EXPECT("$11\r\nHello World\r\n", "GETRANGE", "k", "-9223372036854775808",
           "9223372036854775807");
    EXPECT("$5\r\nWorld\r\n", "SUBSTR", "k", "6", "10");
    EXPECT("+OK\r\n", "SET", "n", "12345678");
    EXPECT("$2\r\n23\r\n", "GETRANGE", "n", "1", "2");
    EXPECT("$1\r\n8\r\n", "GETRANGE", "n", "-1", "-1");
    EXPECT("+OK\r\n", "SET", "e", "");
    EXPECT("$0\r\n\r\n", "GETRANGE", "e", "0", "-1");
}

Test(cmd_string, setrange)
{
    EXPECT("-ERR offset is out of range\r\n", "SETRANGE", "k", "-1", "x");
    EXPECT(NOTINT, "SETRANGE", "k", "1x", "x");
    /* Nothing to write on a missing key: 0 and no key. */
    EXPECT(":0\r\n", "SETRANGE", "k", "100", "");
    EXPECT(":0\r\n", "STRLEN", "k");
    EXPECT("+none\r\n", "TYPE", "k");
    /* A gap is zero-filled. */
    EXPECT(":6\r\n", "SETRANGE", "k", "5", "x");
    EXPECT("$6\r\n\0\0\0\0\0x\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SET", "k", "Hello World");
    EXPECT(":11\r\n", "SETRANGE", "k", "6", "Redis");
    EXPECT("$11\r\nHello Redis\r\n", "GET", "k");
    EXPECT(":13\r\n", "SETRANGE", "k", "10", "sss");
    EXPECT("$13\r\nHello Redisss\r\n", "GET", "k");
    EXPECT(":13\r\n", "SETRANGE", "k", "999999999999", "");
    /* Integer-encoded values are edited as text, TTL kept. */
    EXPECT("+OK\r\n", "SET", "n", "1234567890", "PX", "5000");
    EXPECT(":10\r\n", "SETRANGE", "n", "0", "9");
    EXPECT("$10\r\n9234567890\r\n", "GET", "n");
    EXPECT(":9234567891\r\n", "INCR", "n");
    EXPECT(":5000\r\n", "PTTL", "n");
}

/* Sanitizers reserve terabytes of address space, so no cap can be set
 * under them; the replies are still checked. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* Cap this test process's address space at its current size plus room, so
 * that any 512 MB allocation fails (and would turn the expected error into
 * an out-of-memory one). Criterion runs each test in its own process. */
static void cap_address_space(size_t room)
{
#ifndef UNDER_SANITIZER
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + room;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
#else
    (void)room;
#endif
}

Test(cmd_string, setrange_limit_without_allocating)
{
    int64_t used;

    cap_address_space((size_t)128 << 20);
    EXPECT("+OK\r\n", "SET", "k", "abc");
    used = macct.used;
    /* 512 MB + 1 byte: refused before anything is allocated. */
    EXPECT(TOOBIG, "SETRANGE", "k", "536870912", "x");
    EXPECT(TOOBIG, "SETRANGE", "big", "536870911", "xy");
    EXPECT(TOOBIG, "SETRANGE", "big", "9223372036854775807", "x");
    cr_assert_eq(macct.used, used, "no memory taken (%lld -> %lld)", (long long)used,
                 (long long)macct.used);
    EXPECT("$3\r\nabc\r\n", "GET", "k");
    EXPECT("+none\r\n", "TYPE", "big");
}

Test(cmd_string, incr_decr)
{
    EXPECT(":1\r\n", "INCR", "k");
    EXPECT(":0\r\n", "DECR", "k");
    EXPECT(":-1\r\n", "DECR", "k");
    EXPECT(":99\r\n", "INCRBY", "k", "100");
    EXPECT(":-1\r\n", "DECRBY", "k", "100");
    EXPECT(":-1\r\n", "INCRBY", "k", "0");
    EXPECT("$2\r\n-1\r\n", "GET", "k");
    EXPECT(NOTINT, "INCRBY", "k", "1.5");
    EXPECT(NOTINT, "INCRBY", "k", "+1");
    EXPECT(NOTINT, "INCRBY", "k", "01");
    EXPECT(NOTINT, "INCRBY", "k", "9223372036854775808");
    EXPECT("-ERR decrement would overflow\r\n", "DECRBY", "k", "-9223372036854775808");
    /* Values that are not canonical integers are refused. */
    static const char *const bad[] = { "abc", " 1", "1 ", "+1", "01", "-0", "", "1.0",
                                       "9223372036854775808", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN("SET", "s", bad[i]);
        check_reply("+OK\r\n", 5, "set");
        RUN("INCR", "s");
        check_reply(NOTINT, sizeof NOTINT - 1, bad[i]);
    }
    /* Integer-looking strings are fine, and TTL survives. */
    EXPECT("+OK\r\n", "SET", "s", "41", "EX", "100");
    EXPECT(":42\r\n", "INCR", "s");
    EXPECT(":100\r\n", "TTL", "s");
}

Test(cmd_string, incr_overflow)
{
    EXPECT("+OK\r\n", "SET", "k", "9223372036854775807");
    EXPECT("-ERR increment or decrement would overflow\r\n", "INCR", "k");
    EXPECT(":9223372036854775806\r\n", "DECR", "k");
    EXPECT("+OK\r\n", "SET", "k", "-9223372036854775808");
    EXPECT("-ERR increment or decrement would overflow\r\n", "DECR", "k");
    EXPECT("-ERR increment or decrement would overflow\r\n", "INCRBY", "k", "-1");
    EXPECT(":-1\r\n", "INCRBY", "k", "9223372036854775807");
    EXPECT("+OK\r\n", "SET", "k", "1");
    EXPECT("-ERR increment or decrement would overflow\r\n", "INCRBY", "k", "9223372036854775807");
    EXPECT("-ERR increment or decrement would overflow\r\n", "DECRBY", "k",
           "-9223372036854775807");
    EXPECT("$1\r\n1\r\n", "GET", "k");
}

Test(cmd_string, incrbyfloat)
{
    EXPECT("$4\r\n10.5\r\n", "INCRBYFLOAT", "k", "10.5");
    EXPECT("$4\r\n10.6\r\n", "INCRBYFLOAT", "k", "0.1");
    EXPECT("$3\r\n5.6\r\n", "INCRBYFLOAT", "k", "-5");
    EXPECT("+OK\r\n", "SET", "k", "5.0e3");
    EXPECT("$4\r\n5200\r\n", "INCRBYFLOAT", "k", "2.0e2");
    EXPECT("$21\r\n100000000000000000000\r\n", "INCRBYFLOAT", "f", "1e20");
    /* A result that prints as -0 is written 0. */
    EXPECT("$1\r\n0\r\n", "INCRBYFLOAT", "z", "-0.0000000000000000001");
    /* Integer-encoded values, and TTL kept. */
    EXPECT("+OK\r\n", "SET", "n", "1234567890", "EX", "60");
    EXPECT("$12\r\n1234567890.5\r\n", "INCRBYFLOAT", "n", "0.5");
    EXPECT(":60\r\n", "TTL", "n");
    EXPECT("$3\r\n0.5\r\n", "INCRBYFLOAT", "h", "0x1p-1");
}

Test(cmd_string, incrbyfloat_errors)
{
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "abc");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", " 1");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "1 ");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "nan");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "1e5000");
    EXPECT("-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "k", "inf");
    /* Every byte must be part of the number: an embedded NUL is not. */
    struct resp_arg nul[] = { { "INCRBYFLOAT", 11 }, { "k", 1 }, { "1.5\0" "1", 5 } };
    exec_argv(3, nul);
    check_reply(NOTFLOAT, sizeof NOTFLOAT - 1, "embedded NUL");
    EXPECT("$-1\r\n", "GET", "k");
    EXPECT("+OK\r\n", "SET", "k", "1.5x");
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "1");
    /* The stored value is checked before the increment. */
    EXPECT(NOTFLOAT, "INCRBYFLOAT", "k", "zzz");
    /* Two finite long doubles whose sum is not. */
    EXPECT("+OK\r\n", "SET", "k", "1e4932");
    EXPECT("-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "k", "1e4932");
    EXPECT("$6\r\n1e4932\r\n", "GET", "k");
}

Test(cmd_string, lazy_expiry)
{
    EXPECT("+OK\r\n", "SET", "k", "v", "PX", "100");
    now_ms += 100;
    /* Redis drops a key only once now > expiry: at the named millisecond it
     * is still there. */
    EXPECT("$1\r\nv\r\n", "GET", "k");
    now_ms += 1;
    EXPECT("$-1\r\n", "GET", "k");
    EXPECT(":1\r\n", "SETNX", "k", "w");
    EXPECT(":-1\r\n", "TTL", "k");
}

Test(cmd_string, parse_ldouble_like_string2ld)
{
    char big[CMD_MAX_LDOUBLE_CHARS + 1];
    long double v = 0;

    cr_assert(cmd_parse_ldouble("1.5", 3, &v) && v == 1.5L);
    cr_assert(cmd_parse_ldouble("-0x1p4", 6, &v) && v == -16.0L);
    cr_assert(cmd_parse_ldouble("inf", 3, &v) && isinf(v));
    cr_assert(!cmd_parse_ldouble("nan", 3, &v));
    cr_assert(!cmd_parse_ldouble("1e99999", 7, &v));
    cr_assert(!cmd_parse_ldouble("1e-99999", 8, &v));
    cr_assert(!cmd_parse_ldouble("\t1", 2, &v));
    cr_assert(!cmd_parse_ldouble("1\0", 2, &v));
    /* The length bound: 5119 bytes parse, 5120 do not. */
    memset(big, '0', sizeof big);
    big[0] = '1';
    big[1] = '.';
    cr_assert(cmd_parse_ldouble(big, CMD_MAX_LDOUBLE_CHARS - 1, &v) && v == 1.0L);
    cr_assert(!cmd_parse_ldouble(big, CMD_MAX_LDOUBLE_CHARS, &v));
}

Test(cmd_string, table_matches_redis)
{
    /* Spot checks of COMMAND INFO in Redis 7.0. */
    const struct cmd_def *d = find_def("set", 3);
    cr_assert_eq(d->arity, -3);
    cr_assert_eq(d->flags, CMD_WRITE | CMD_DENYOOM);
    cr_assert(d->keys[0].begin == 1 && d->keys[0].last == 0 && d->keys[0].step == 1 &&
              !d->keys[1].flags);
    d = find_def("get", 3);
    cr_assert_eq(d->arity, 2);
    cr_assert_eq(d->flags, CMD_READONLY | CMD_FAST);
    d = find_def("getex", 5);
    cr_assert_eq(d->arity, -2);
    cr_assert_eq(d->flags, CMD_WRITE | CMD_FAST);
    d = find_def("getrange", 8);
    cr_assert_eq(d->flags, CMD_READONLY);
    cr_assert_eq(cmd_string_ndefs, 18);
    for (size_t i = 0; i < cmd_string_ndefs; i++)
        cr_assert_not_null(cmd_string_defs[i].summary);
}
