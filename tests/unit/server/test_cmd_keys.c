/* test_cmd_keys.c — TYPE, the EXPIRE family, TTL/PTTL, EXPIRETIME and
 * PERSIST run against a real kvmap through a hand-built cmd_ctx; replies are
 * checked byte for byte against Redis 7.0's. Single-threaded. */

#include "cmd_harness.h"

#define BADTIME(cmd) "-ERR invalid expire time in '" cmd "' command\r\n"
#define NXCOMPAT "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
#define GTLT "-ERR GT and LT options at the same time are not compatible\r\n"

TestSuite(cmd_keys, .init = setup, .fini = teardown);

Test(cmd_keys, type)
{
    EXPECT("+none\r\n", "TYPE", "k");
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT("+string\r\n", "type", "k");
    EXPECT("+OK\r\n", "SET", "n", "123456789");
    EXPECT("+string\r\n", "TYPE", "n");
    proto = RESP3;
    EXPECT("+none\r\n", "TYPE", "missing");
}

Test(cmd_keys, expire_basic)
{
    EXPECT(":0\r\n", "EXPIRE", "k", "100");
    EXPECT(":-2\r\n", "TTL", "k");
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT(":-1\r\n", "PTTL", "k");
    EXPECT(":-1\r\n", "EXPIRETIME", "k");
    EXPECT(":-1\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "EXPIRE", "k", "100");
    EXPECT(":100\r\n", "TTL", "k");
    EXPECT(":100000\r\n", "PTTL", "k");
    EXPECT(":1700000100\r\n", "EXPIRETIME", "k");
    EXPECT(":1700000100000\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "PEXPIRE", "k", "1234");
    EXPECT(":1234\r\n", "PTTL", "k");
    EXPECT(":1\r\n", "EXPIREAT", "k", "1800000000");
    EXPECT(":1800000000000\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "PEXPIREAT", "k", "1800000000001");
    EXPECT(":1800000000\r\n", "EXPIRETIME", "k");
    EXPECT(":1800000000001\r\n", "PEXPIRETIME", "k");
    EXPECT("$1\r\nv\r\n", "GET", "k");
}

Test(cmd_keys, ttl_rounding)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(":1\r\n", "PEXPIRE", "k", "1499");
    EXPECT(":1\r\n", "TTL", "k");
    EXPECT(":1\r\n", "PEXPIRE", "k", "1500");
    EXPECT(":2\r\n", "TTL", "k");
    EXPECT(":1\r\n", "PEXPIRE", "k", "499");
    EXPECT(":0\r\n", "TTL", "k");
    EXPECT(":1\r\n", "PEXPIREAT", "k", "1800000000499");
    EXPECT(":1800000000\r\n", "EXPIRETIME", "k");
    EXPECT(":1\r\n", "PEXPIREAT", "k", "1800000000500");
    EXPECT(":1800000001\r\n", "EXPIRETIME", "k");
}

Test(cmd_keys, past_expiry_deletes)
{
    EXPECT("+OK\r\n", "SET", "a", "v");
    EXPECT(":1\r\n", "EXPIRE", "a", "0");
    EXPECT("$-1\r\n", "GET", "a");
    EXPECT("+OK\r\n", "SET", "a", "v");
    EXPECT(":1\r\n", "EXPIRE", "a", "-100");
    EXPECT("+none\r\n", "TYPE", "a");
    EXPECT("+OK\r\n", "SET", "a", "v");
    EXPECT(":1\r\n", "PEXPIREAT", "a", "1699999999999");
    EXPECT(":-2\r\n", "PTTL", "a");
    EXPECT("+OK\r\n", "SET", "a", "v");
    EXPECT(":1\r\n", "EXPIREAT", "a", "1");
    EXPECT(":-2\r\n", "TTL", "a");
    /* The expiry equal to the clock counts as past. */
    EXPECT("+OK\r\n", "SET", "a", "v");
    EXPECT(":1\r\n", "PEXPIREAT", "a", "1700000000000");
    EXPECT("$-1\r\n", "GET", "a");
    cr_assert_eq(kvmap_count(db), 0);
}

Test(cmd_keys, expire_nx_xx)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "XX");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT(":1\r\n", "EXPIRE", "k", "100", "NX");
    EXPECT(":0\r\n", "EXPIRE", "k", "200", "nx");
    EXPECT(":100\r\n", "TTL", "k");
    EXPECT(":1\r\n", "EXPIRE", "k", "200", "xx");
    EXPECT(":200\r\n", "TTL", "k");
    /* A repeated option is fine. */
    EXPECT(":1\r\n", "EXPIRE", "k", "300", "XX", "XX");
    EXPECT(":300\r\n", "TTL", "k");
    /* A missing key: 0 whatever the options. */
    EXPECT(":0\r\n", "EXPIRE", "m", "100", "NX");
}

Test(cmd_keys, expire_gt_lt)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    /* No TTL is infinite: GT never wins, LT always does. */
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "GT");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT(":1\r\n", "EXPIRE", "k", "100", "LT");
    EXPECT(":100\r\n", "TTL", "k");
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "GT");
    EXPECT(":0\r\n", "EXPIRE", "k", "100", "LT");
    EXPECT(":1\r\n", "EXPIRE", "k", "150", "GT");
    EXPECT(":0\r\n", "EXPIRE", "k", "200", "LT", "XX");
    EXPECT(":1\r\n", "EXPIRE", "k", "50", "LT", "XX");
    EXPECT(":50\r\n", "TTL", "k");
    EXPECT(":1\r\n", "PEXPIRE", "k", "50001", "GT", "XX");
    EXPECT(":50001\r\n", "PTTL", "k");
    /* LT with a past time deletes. */
    EXPECT(":1\r\n", "PEXPIREAT", "k", "5", "LT");
    EXPECT(":-2\r\n", "PTTL", "k");
}

Test(cmd_keys, expire_option_errors)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(NXCOMPAT, "EXPIRE", "k", "100", "NX", "XX");
    EXPECT(NXCOMPAT, "EXPIRE", "k", "100", "GT", "NX");
    EXPECT(NXCOMPAT, "PEXPIRE", "k", "100", "NX", "LT");
    EXPECT(NXCOMPAT, "EXPIRE", "k", "100", "NX", "GT", "LT");
    EXPECT(GTLT, "EXPIREAT", "k", "100", "GT", "LT");
    EXPECT(GTLT, "EXPIRE", "k", "100", "XX", "LT", "GT");
    EXPECT("-ERR Unsupported option foo\r\n", "EXPIRE", "k", "100", "foo");
    EXPECT("-ERR Unsupported option NXX\r\n", "EXPIRE", "k", "100", "NX", "NXX");
    /* Options are checked before the time argument. */
    EXPECT("-ERR Unsupported option bar\r\n", "EXPIRE", "k", "abc", "bar");
    EXPECT(NXCOMPAT, "EXPIRE", "k", "abc", "NX", "XX");
    EXPECT(NOTINT, "EXPIRE", "k", "abc");
    EXPECT(NOTINT, "PEXPIRE", "k", "1.5", "NX");
    EXPECT(":-1\r\n", "TTL", "k");
}

Test(cmd_keys, unsupported_option_is_one_line)
{
    /* Redis reads the option as a C string (up to a NUL), trims trailing
     * CR/LF and turns any other CR/LF into spaces. */
    static const char opt[] = "a\r\nb\nc\r\n\0zz";
    struct resp_arg argv[] = { { "EXPIRE", 6 }, { "k", 1 }, { "1", 1 }, { opt, sizeof opt - 1 } };
    static const char want[] = "-ERR Unsupported option a  b c\r\n";

    exec_argv(4, argv);
    check_reply(want, sizeof want - 1, "sanitised option");
}

Test(cmd_keys, expire_overflow)
{
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(BADTIME("expire"), "EXPIRE", "k", "9223372036854776");
    EXPECT(BADTIME("expire"), "EXPIRE", "k", "-9223372036854776");
    EXPECT(BADTIME("expireat"), "EXPIREAT", "k", "9223372036854776");
    EXPECT(BADTIME("pexpire"), "PEXPIRE", "k", "9223372036854775807");
    EXPECT(NOTINT, "PEXPIRE", "k", "9223372036854775808");
    /* The overflow is checked before the key is looked up. */
    EXPECT(BADTIME("expire"), "EXPIRE", "missing", "9223372036854776");
    EXPECT(":-1\r\n", "TTL", "k");
    /* No base time to add: the largest ms value is fine. */
    EXPECT(":1\r\n", "PEXPIREAT", "k", "9223372036854775807");
    EXPECT(":9223372036854775807\r\n", "PEXPIRETIME", "k");
    EXPECT(":1\r\n", "EXPIREAT", "k", "9223372036854775", "LT");
    EXPECT(":9223372036854775000\r\n", "PEXPIRETIME", "k");
    /* A very negative relative time: no overflow, the key is deleted. */
    EXPECT(":1\r\n", "PEXPIRE", "k", "-9223372036854775808");
    EXPECT(":-2\r\n", "TTL", "k");
}

Test(cmd_keys, persist)
{
    EXPECT(":0\r\n", "PERSIST", "k");
    EXPECT("+OK\r\n", "SET", "k", "v");
    EXPECT(":0\r\n", "PERSIST", "k");
    EXPECT(":1\r\n", "EXPIRE", "k", "10");
    EXPECT(":1\r\n", "PERSIST", "k");
    EXPECT(":-1\r\n", "TTL", "k");
    EXPECT(":0\r\n", "PERSIST", "k");
    EXPECT("$1\r\nv\r\n", "GET", "k");
}

Test(cmd_keys, lazy_expiry_and_ttl_never_negative)
{
    EXPECT("+OK\r\n", "SET", "k", "v", "PX", "10");
    now_ms += 9;
    EXPECT(":1\r\n", "PTTL", "k");
    EXPECT(":0\r\n", "TTL", "k");
    now_ms += 1;
    /* At the expiry millisecond itself the key still exists (Redis's
     * keyIsExpired is now > when): PTTL clamps to 0. */
    EXPECT(":0\r\n", "PTTL", "k");
    now_ms += 1;
    EXPECT(":-2\r\n", "PTTL", "k");
    EXPECT("+none\r\n", "TYPE", "k");
    EXPECT(":0\r\n", "PERSIST", "k");
    EXPECT(":0\r\n", "EXPIRE", "k", "10");
}

Test(cmd_keys, integer_encoded_keys_take_ttls)
{
    EXPECT("+OK\r\n", "SET", "n", "1234567890123");
    EXPECT(":1\r\n", "EXPIRE", "n", "77");
    EXPECT(":77\r\n", "TTL", "n");
    EXPECT("$13\r\n1234567890123\r\n", "GET", "n");
    EXPECT(":1234567890124\r\n", "INCR", "n");
    EXPECT(":77\r\n", "TTL", "n");
    EXPECT(":1\r\n", "PERSIST", "n");
    EXPECT("$13\r\n1234567890124\r\n", "GET", "n");
}

Test(cmd_keys, table_matches_redis)
{
    const struct cmd_def *d = find_def("expire", 6);
    cr_assert_eq(d->arity, -3);
    cr_assert_eq(d->flags, CMD_WRITE | CMD_FAST);
    cr_assert(d->keys[0].begin == 1 && d->keys[0].last == 0 && d->keys[0].step == 1 &&
              !d->keys[1].flags);
    d = find_def("ttl", 3);
    cr_assert_eq(d->arity, 2);
    cr_assert_eq(d->flags, CMD_READONLY | CMD_FAST);
    d = find_def("persist", 7);
    cr_assert_eq(d->flags, CMD_WRITE | CMD_FAST);
    cr_assert_eq(cmd_keys_ndefs, 11);
    EXPECT("-ERR wrong number of arguments for 'expire' command\r\n", "EXPIRE", "k");
}
