#!/usr/bin/python3
"""Differential test of COMMAND against a real redis-server 7.0: COMMAND
INFO (flags, key positions, ACL categories, tips, key specs, subcommands),
COMMAND DOCS (summary, since, group, complexity), COMMAND COUNT, COMMAND
LIST with and without FILTERBY, and COMMAND GETKEYS / GETKEYSANDFLAGS,
errors included, in RESP2 and RESP3. shardkv implements fewer commands and
subcommands than Redis: each comparison is per command we have. Replies are
compared as parsed by skvtest's full RESP parser, which keeps every type
apart (status / bulk, array / set / map). Run with SHARDKV_BIN set.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

# Subcommands we serve that Redis 7.0 lacks (7.2's, sent by clients).
NEWER = {"client|setinfo"}


def subs_by_name(entry):
    return {s[0]: s for s in entry[9]}


class Command(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = skvtest.RedisServer().start()
        cls.skv = skvtest.ShardkvServer(["--threads", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.skv, cls.redis):
            s.stop()

    def both(self, proto=2):
        r = skvtest.Client(self.redis.port, decode=True)
        s = skvtest.Client(self.skv.port, decode=True)
        if proto == 3:
            r.call("HELLO", "3")
            s.call("HELLO", "3")
        return r, s

    def names(self, s):
        return [e[0] for e in s.call("COMMAND")]

    def check_info(self, proto):
        r, s = self.both(proto)
        with r, s:
            for name in self.names(s):
                want = r.call("COMMAND", "INFO", name)[0]
                got = s.call("COMMAND", "INFO", name)[0]
                self.assertIsNotNone(want, "%s: Redis has no such command" % name)
                # Everything but the subcommands, exactly.
                self.assertEqual(got[:9], want[:9], name)
                if not got[9]:
                    self.assertEqual(got[9], want[9], name)
                    continue
                # Redis lists subcommands in hash order: compare by name.
                wsubs = subs_by_name(want)
                for sub, entry in subs_by_name(got).items():
                    if sub in NEWER:
                        continue
                    self.assertIn(sub, wsubs)
                    self.assertEqual(entry, wsubs[sub], sub)
            # Unknown names are nulls, in place.
            self.assertEqual(s.call("COMMAND", "INFO", "get", "nosuch")[1],
                             r.call("COMMAND", "INFO", "get", "nosuch")[1])

    def test_info_resp2(self):
        self.check_info(2)

    def test_info_resp3(self):
        self.check_info(3)

    def test_whole_command_is_info_of_all(self):
        r, s = self.both()
        with r, s:
            everything = s.call("COMMAND")
            self.assertEqual(len(everything), s.call("COMMAND", "COUNT"))
            self.assertEqual(sorted(everything), sorted(s.call("COMMAND", "INFO")))
            self.assertLessEqual(len(everything), r.call("COMMAND", "COUNT"))

    def test_docs(self):
        r, s = self.both(3)
        with r, s:
            for name in self.names(s):
                want = r.call("COMMAND", "DOCS", name)[name]
                got = s.call("COMMAND", "DOCS", name)[name]
                for field in ("summary", "since", "group", "complexity"):
                    self.assertEqual(got.get(field), want.get(field), (name, field))
                for sub, doc in got.get("subcommands", {}).items():
                    if sub in NEWER:
                        continue
                    wdoc = want["subcommands"][sub]
                    for field in ("summary", "since", "group", "complexity"):
                        self.assertEqual(doc.get(field), wdoc.get(field), (sub, field))
            self.assertEqual(s.call("COMMAND", "DOCS", "nosuch"), r.call("COMMAND", "DOCS", "nosuch"))

    def test_list_and_filters(self):
        r, s = self.both()
        with r, s:
            ours = set(s.call("COMMAND", "LIST"))
            self.assertTrue(ours <= set(r.call("COMMAND", "LIST")) | NEWER)
            filters = [("PATTERN", "*set*"), ("PATTERN", "config|*"), ("PATTERN", "[a-c]*"),
                       ("ACLCAT", "keyspace"), ("ACLCAT", "write"), ("ACLCAT", "read"),
                       ("ACLCAT", "connection"), ("ACLCAT", "dangerous"), ("ACLCAT", "fast"),
                       ("ACLCAT", "slow"), ("ACLCAT", "admin"), ("ACLCAT", "string"),
                       ("ACLCAT", "transaction"), ("ACLCAT", "STRING"), ("ACLCAT", "nosuch"),
                       ("MODULE", "x")]
            for kind, arg in filters:
                want = set(r.call("COMMAND", "LIST", "FILTERBY", kind, arg)) & ours
                got = set(s.call("COMMAND", "LIST", "FILTERBY", kind, arg)) - NEWER
                self.assertEqual(got, want, (kind, arg))
            for bad in (["FILTERBY"], ["FILTERBY", "PATTERN"], ["FILTERBY", "FOO", "x"],
                        ["NOTFILTER", "PATTERN", "x"], ["FILTERBY", "PATTERN", "x", "y"]):
                self.assertEqual(s.call("COMMAND", "LIST", *bad), r.call("COMMAND", "LIST", *bad), bad)

    def test_getkeys(self):
        cases = [
            ["get", "a"], ["set", "a", "b"], ["set", "a", "b", "GET"], ["set", "a", "b", "get", "ex", "5"],
            ["mset", "a", "1", "b", "2"], ["mset", "a"], ["mset", "a", "1", "b"], ["mget", "a", "b", "c"],
            ["del", "a", "b"], ["rename", "a", "b"], ["renamenx", "a", "b"], ["copy", "a", "b"],
            ["copy", "a", "b", "DB", "3"], ["move", "a", "1"], ["expire", "a", "10"], ["ttl", "a"],
            ["getex", "a", "persist"], ["watch", "a", "b"], ["exists", "a", "b"], ["touch", "x"],
            ["ping"], ["ping", "x"], ["nosuch", "a"], ["config", "get", "a"], ["config", "nosuch", "a"],
            ["client", "id"], ["dbsize", "x"], ["keys", "*"], ["get"], ["get", "a", "b"],
            ["GET", "a"], ["MgEt", "k"],
        ]
        r, s = self.both()
        with r, s:
            for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
                for case in cases:
                    self.assertEqual(s.call("COMMAND", sub, *case), r.call("COMMAND", sub, *case),
                                     (sub, case))
                for short in ([], ["get"]):
                    self.assertEqual(s.call("COMMAND", sub, *short), r.call("COMMAND", sub, *short))
        r, s = self.both(3)
        with r, s:
            for case in (["copy", "a", "b"], ["set", "a", "b", "get"]):
                self.assertEqual(s.call("COMMAND", "GETKEYSANDFLAGS", *case),
                                 r.call("COMMAND", "GETKEYSANDFLAGS", *case))

    def test_subcommand_errors(self):
        cases = [["COMMAND", "nosuch"], ["COMMAND", "COUNT", "x"], ["COMMAND", "HELP"],
                 ["CONFIG"], ["CONFIG", "nosuch"], ["config", "GET"], ["CONFIG", "SET", "x"],
                 ["CLIENT"], ["client", "nosuch", "x"], ["CLIENT", "ID", "x"],
                 ["CONFIG", "x" * 200], ["CONFIG", "a\x00b"]]
        r, s = self.both()
        with r, s:
            for case in cases:
                self.assertEqual(s.call(*case), r.call(*case), case)
            # Inside MULTI, a refused subcommand aborts EXEC as in Redis.
            for c in (r, s):
                c.call("MULTI")
                c.call("CONFIG", "nosuch")
                c.call("CLIENT", "ID")
            self.assertEqual(s.call("EXEC"), r.call("EXEC"))


if __name__ == "__main__":
    skvtest.main()
