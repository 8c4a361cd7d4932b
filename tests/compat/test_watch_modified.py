#!/usr/bin/python3
"""WATCH is invalidated by a write that modified the watched key and only by
that (Redis's signalModifiedKey, shardkv's cmd_key_modified): each case runs
on a real redis-server 7.0 and on shardkv (several shards, so the watched
key and the write's other keys may live on different threads), and the EXEC
outcomes must match, as must the expected one written here. Run with
SHARDKV_BIN set.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

# (setup commands, the other client's write, does it touch the watched key w?)
CASES = [
    ([["SET", "w", "1"]], ["SET", "w", "2"], True),
    ([["SET", "w", "1"]], ["SET", "w", "1"], True),  # same value: still a write
    ([["SET", "w", "1"]], ["SETNX", "w", "2"], False),
    ([], ["SETNX", "w", "2"], True),
    ([["SET", "w", "1"]], ["SET", "w", "2", "NX"], False),
    ([], ["SET", "w", "2", "XX"], False),
    ([], ["DEL", "w"], False),
    ([["SET", "w", "1"]], ["DEL", "w"], True),
    ([["SET", "w", "1"]], ["DEL", "other", "w", "x2"], True),
    ([], ["DEL", "other", "w", "x2"], False),
    ([], ["UNLINK", "w"], False),
    ([], ["EXPIRE", "w", "100"], False),
    ([["SET", "w", "1"]], ["EXPIRE", "w", "100"], True),
    ([["SET", "w", "1", "EX", "100"]], ["EXPIRE", "w", "200", "NX"], False),
    ([["SET", "w", "1"]], ["PERSIST", "w"], False),
    ([["SET", "w", "1", "EX", "100"]], ["PERSIST", "w"], True),
    ([["SET", "w", "1"]], ["GETEX", "w"], False),
    ([["SET", "w", "1"]], ["GETEX", "w", "EX", "100"], True),
    ([], ["GETDEL", "w"], False),
    ([["SET", "w", "1"]], ["GETDEL", "w"], True),
    ([["SET", "w", "1"]], ["SETRANGE", "w", "0", ""], False),
    ([["SET", "w", "1"]], ["SETRANGE", "w", "0", "x"], True),
    ([["SET", "w", "1"]], ["APPEND", "w", "x"], True),
    ([["SET", "w", "1"]], ["INCR", "w"], True),
    ([["SET", "w", "a"]], ["INCR", "w"], False),  # an error changes nothing
    ([], ["MSET", "a1", "1", "w", "2", "b1", "3"], True),
    ([["SET", "w", "1"]], ["MSETNX", "a2", "1", "w", "2"], False),
    ([], ["MSETNX", "a3", "1", "w", "2"], True),
    ([["SET", "w", "1"]], ["RENAME", "w", "w2"], True),
    ([["SET", "s", "1"]], ["RENAME", "s", "w"], True),
    ([["SET", "s", "1"], ["SET", "w", "1"]], ["RENAMENX", "s", "w"], False),
    ([["SET", "s", "1"]], ["COPY", "s", "w"], True),
    ([["SET", "s", "1"], ["SET", "w", "1"]], ["COPY", "s", "w"], False),
    ([["SET", "w", "1"]], ["MOVE", "w", "1"], True),
    ([], ["MOVE", "w", "1"], False),
    ([["SET", "w", "1"]], ["FLUSHALL"], True),
    ([["SET", "w", "1"]], ["FLUSHDB"], True),
    ([["SET", "w", "1"]], ["GET", "w"], False),
]


class WatchModified(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(["--threads", "3"]).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.skv, cls.redis):
            s.stop()

    def run_case(self, port, setup, write):
        with skvtest.Client(port) as a, skvtest.Client(port) as b:
            a.call("FLUSHALL")
            for cmd in setup:
                a.call(*cmd)
            self.assertEqual(a.call("WATCH", "w"), "OK")
            b.call(*write)
            a.call("MULTI")
            a.call("PING")
            return a.call("EXEC") is None

    def test_cases(self):
        for setup, write, touches in CASES:
            with self.subTest(write=write):
                want = self.run_case(self.redis.port, setup, write)
                got = self.run_case(self.skv.port, setup, write)
                self.assertEqual(want, touches, "the case's expectation is not Redis's")
                self.assertEqual(got, want, (setup, write))


if __name__ == "__main__":
    skvtest.main()
