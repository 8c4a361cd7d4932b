#!/usr/bin/python3
"""maxmemory and maxmemory-policy against the real server: the bound holds
(INFO used_memory, the allocator's total, stays within maxmemory plus the
documented slack) with keys spread over shards and with every key on one
shard; allkeys-lru keeps the keys being read; volatile policies never touch
keys without a TTL and answer -OOM once only those are left, while a
step that only ran out of time never refuses a write; noeviction
answers Redis's -OOM to deny-oom commands while reads, DEL and FLUSHALL
work; CONFIG SET maxmemory below the usage evicts down to it; a 1-byte
bound keeps the server answering; configuration replies match
redis-server's. Servers listen on 127.0.0.1, free ports, always stopped.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402

MB = 1 << 20
# The documented slack (docs/DESIGN.md): the rest of the process is
# sampled once a second, so the bound may be passed by what connections
# and buffers grew meanwhile.
SLACK = 4 * MB
OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = "v" * 400
# A small ASan quarantine, so that freed blocks do not count as held memory
# in sanitizer builds (no effect on other builds).
ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"}


def info(c, section, field):
    return skvtest.parse_info(c.call("INFO", section))[section.lower()][field]


def used(c):
    """INFO used_memory, the allocator's total the bound is kept on; an
    allocator without figures (sanitizer builds) reports 0, and then the
    bound holds on the shards' own count, which is what is checked."""
    mem = skvtest.parse_info(c.call("INFO", "memory"))["memory"]
    return int(mem["used_memory"]) or int(mem["used_memory_shards"])


def keys_by_shard(c, n, prefix):
    """n candidate key names split by the shard that owns them (threads 2):
    SCAN's cursor carries the shard in its low bit, and every key a call
    returns comes from the shard of the cursor it was asked with."""
    c.pipeline([["SET", "%s%d" % (prefix, i), "x"] for i in range(n)])
    shards = ([], [])
    cursor = "0"
    while True:
        nxt, batch = c.call("SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000")
        shards[int(cursor) & 1].extend(batch)
        cursor = nxt
        if cursor == "0":
            break
    c.call("FLUSHALL")
    return shards


class Bound(unittest.TestCase):
    def flood(self, c, keys, maxmemory, check_every=2000):
        """SET every key with VALUE, checking the bound as it goes."""
        worst = 0
        for i in range(0, len(keys), check_every):
            c.pipeline([["SET", k, VALUE] for k in keys[i:i + check_every]])
            worst = max(worst, used(c))
        self.assertLessEqual(worst, maxmemory + SLACK, "used_memory peaked at %d" % worst)
        return worst

    def test_bound_holds_with_keys_spread(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "24mb",
                                               "--maxmemory-policy", "allkeys-lru"]) as s:
            c = s.client(decode=True)
            rss0 = skvtest.parse_info(c.call("INFO", "memory"))["memory"]["used_memory_rss"]
            self.flood(c, ["spread:%d" % i for i in range(120000)], 24 * MB)
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 30000)
            mem = skvtest.parse_info(c.call("INFO", "memory"))["memory"]
            # RSS tells only with the real allocator: a sanitizer's adds
            # red zones to every block and keeps freed ones a while.
            if mem["mem_allocator"].startswith("jemalloc"):
                rss1 = mem["used_memory_rss"]
                self.assertLess(int(rss1) - int(rss0), 48 * MB, "RSS %s -> %s" % (rss0, rss1))
            self.assertEqual(info(c, "memory", "maxmemory_policy"), "allkeys-lru")
            # What dashboards read: the peak is at least what is used, the
            # dataset (the shards' maps) most of it.
            if mem["mem_allocator"].startswith("jemalloc"):
                self.assertGreaterEqual(int(mem["used_memory_peak"]), int(mem["used_memory"]))
                self.assertGreater(int(mem["used_memory_dataset"]), 16 * MB)
                self.assertGreater(float(mem["mem_fragmentation_ratio"]), 0.5)
            self.assertEqual(int(info(c, "memory", "maxmemory")), 24 * MB)

    def test_bound_holds_with_every_key_on_one_shard(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "16mb",
                                               "--maxmemory-policy", "allkeys-lru"]) as s:
            c = s.client(decode=True)
            one, _ = keys_by_shard(c, 160000, "one:")
            self.assertGreater(len(one), 60000)
            self.flood(c, one, 16 * MB)
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 10000)

    def test_the_first_second_counts_the_rest_of_the_process(self):
        # Worker 0 samples the rest of the process once a second; it is
        # sampled at start too, or until the first sample the bound counted
        # only the keys and was passed by all the rest (about 600 KB: 30%
        # of this bound). Filled well within that first second.
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "1", "--maxmemory", "2mb",
                                               "--maxmemory-policy", "allkeys-lru"]) as s:
            c = s.client(decode=True)
            start = time.monotonic()
            worst = 0
            # In pipelines of 1000, so that the input buffer (the rest of
            # the process, unsampled within the second) stays small.
            for i in range(0, 30000, 1000):
                c.pipeline([["SET", "f%d" % j, "v" * 64] for j in range(i, i + 1000)])
                worst = max(worst, used(c))
            elapsed = time.monotonic() - start
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 5000)
            # With jemalloc, the allocator's metadata is most of the rest
            # and is there at start; a sanitizer's allocator starts near
            # zero and grows by 250 KB in that second, a figure with nothing
            # to tell. Slower builds meet the first tick anyway.
            if info(c, "memory", "mem_allocator").startswith("jemalloc") and elapsed < 0.9:
                self.assertLessEqual(worst, 2 * MB + 256 * 1024, "used_memory %d" % worst)

    def test_used_memory_counts_what_the_bound_counts(self):
        # Redis's used_memory is the figure maxmemory is compared with. Ours
        # must include the hash table arrays the shards map outside the
        # allocator (from 2^17 buckets up): at a filled bound of small keys
        # they are a quarter of it, and INFO used to leave them out (and
        # read ~80% of maxmemory while the bound was held on a figure that
        # counted them).
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "16mb",
                                               "--maxmemory-policy", "allkeys-lru"]) as s:
            c = s.client(decode=True)
            # Until the bound has evicted a good share: ~400k keys with
            # jemalloc; sanitizer builds count requested bytes (no size
            # classes), so their keys are smaller and need more.
            for i in range(0, 2000000, 20000):
                c.pipeline([["SET", "u%d" % j, "v"] for j in range(i, i + 20000)])
                if i >= 380000 and int(info(c, "stats", "evicted_keys")) > 10000:
                    break
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 10000)
            time.sleep(1.2)  # a tick: worker 0 samples the rest of the process
            # A few writes at the bound, each evicting before it runs.
            c.pipeline([["SET", "w%d" % j, "v"] for j in range(2000)])
            full = skvtest.parse_info(c.call("INFO", "everything"))
            mem = full["memory"]
            used_memory = int(mem["used_memory"])
            self.assertLessEqual(used_memory, 16 * MB + SLACK)
            # With jemalloc the bound and INFO read one figure. ASan builds
            # read the sanitizer's allocated bytes instead; there the filled
            # bound read 90-92% of maxmemory (cause not looked into; the
            # bound itself holds, test_bound_holds_*).
            floor = 97 if mem.get("mem_allocator", "").startswith("jemalloc") else 85
            self.assertGreaterEqual(used_memory, 16 * MB * floor // 100,
                                    "used_memory %d at a filled 16 MB bound" % used_memory)
            # Beyond the allocator's own figure (jemalloc builds give it):
            # the shards' big bucket arrays, 8 bytes a bucket (the figure
            # also counts the 15 empty databases' 4 buckets, allocated).
            mapped = sum(8 * int(v["buckets"]) for v in full["shards"].values()
                         if int(v["buckets"]) >= 1 << 17)
            self.assertGreaterEqual(mapped, 2 * MB)
            if "allocator_allocated" in mem:
                beyond = used_memory - int(mem["allocator_allocated"])
                self.assertGreaterEqual(beyond, mapped * 99 // 100)
                self.assertLess(beyond, mapped + 2 * MB)
            # The dataset is the shards' maps, the rest the server's own.
            self.assertEqual(int(mem["used_memory_dataset"]) + int(mem["used_memory_overhead"]),
                             used_memory)
            self.assertGreater(int(mem["used_memory_overhead"]), 0)

    def test_a_step_out_of_time_still_admits_writes(self):
        # Redis refuses a deny-oom command only when nothing is left to
        # evict (EVICT_FAIL); a step that ran out of time (EVICT_RUNNING)
        # lets the command run and keeps evicting in the background. With
        # the shortest step (16 keys) small keys cannot pay at once for a
        # jump in memory such as a hash table growing, yet no SET of a
        # pipelined flood may be refused.
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "4mb",
                                               "--maxmemory-policy", "allkeys-lru",
                                               "--maxmemory-eviction-tenacity", "0"]) as s:
            c = s.client(decode=True)
            refused = []
            for i in range(0, 200000, 10000):
                replies = c.pipeline([["SET", "flood:%d" % j, "v" * 32]
                                      for j in range(i, i + 10000)])
                refused += [r for r in replies if r != "OK"]
            self.assertEqual(len(refused), 0, refused[:3])
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 50000)
            deadline = time.monotonic() + 5
            while used(c) > 4 * MB + SLACK and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertLessEqual(used(c), 4 * MB + SLACK)

    def test_lru_keeps_the_keys_being_read(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "16mb",
                                               "--maxmemory-policy", "allkeys-lru",
                                               "--maxmemory-samples", "10"]) as s:
            c = s.client(decode=True)
            hot = ["hot:%d" % i for i in range(2000)]
            c.pipeline([["SET", k, VALUE] for k in hot])
            # The LRU clock counts seconds, as Redis's: the flood is spread
            # over several, and the hot keys are read in each.
            for i in range(0, 60000, 2000):
                time.sleep(0.2)
                c.pipeline([["SET", "cold:%d" % j, VALUE] for j in range(i, i + 2000)])
                c.pipeline([["GET", k] for k in hot])
            alive = sum(1 for v in c.pipeline([["EXISTS", k] for k in hot]) if v == 1)
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 10000)
            self.assertGreaterEqual(alive, 1900, "only %d of 2000 hot keys survived" % alive)

    def test_volatile_policies_spare_keys_without_ttl(self):
        for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
            with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "12mb",
                                                   "--maxmemory-policy", policy]) as s:
                c = s.client(decode=True)
                keep = ["keep:%d" % i for i in range(8000)]
                c.pipeline([["SET", k, VALUE] for k in keep])
                replies = []
                for i in range(0, 60000, 2000):
                    replies += c.pipeline([["SET", "ttl:%d" % j, VALUE, "EX", "1000"]
                                           for j in range(i, i + 2000)])
                self.assertTrue(all(r == "OK" for r in replies[:1000]), policy)
                self.assertGreater(int(info(c, "stats", "evicted_keys")), 0, policy)
                alive = sum(c.pipeline([["EXISTS", k] for k in keep]))
                self.assertEqual(alive, len(keep), policy)
                self.assertLessEqual(used(c), 12 * MB + SLACK, policy)
                # Only keys without a TTL left to evict: writes get -OOM.
                # Until then a step that runs out of time lets the write
                # run (Redis's EVICT_RUNNING) and eviction goes on in the
                # background until no key with a TTL is left.
                c.call("CONFIG", "SET", "maxmemory", "1mb")
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    db0 = skvtest.parse_info(c.call("INFO", "keyspace"))["keyspace"].get("db0")
                    if db0 is None or db0["expires"] == "0":
                        break
                    time.sleep(0.02)
                self.assertEqual(db0["expires"], "0", policy)
                r = c.call("SET", "more", VALUE)
                self.assertIsInstance(r, skvtest.RespError, policy)
                self.assertEqual(str(r), OOM, policy)
                self.assertEqual(c.call("GET", "keep:1"), VALUE, policy)

    def at_bound(self, c, made, *cmd):
        """cmd's reply right after a SET was refused. The bound counts the
        whole process, whose buffers shrink once a pipeline's replies are
        written, so the server may be back under it when a flood ends; one
        round trip after a refusal it is not. A command that got in anyway
        (the buffers shrank in between) is undone (DEL of the keys it made)
        and tried again: a server that never refuses it still fails."""
        for attempt in range(5):
            for i in range(100000):
                if isinstance(c.call("SET", "top:%d:%d" % (attempt, i), VALUE),
                              skvtest.RespError):
                    break
            else:
                self.fail("no SET refused at the bound")
            r = c.call(*cmd)
            if isinstance(r, skvtest.RespError):
                return r
            c.call("DEL", *made)
        return r

    def test_noeviction_refuses_writes_but_serves_reads_and_deletes(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2", "--maxmemory", "8mb"]) as s:
            c = s.client(decode=True)
            replies = []
            for i in range(0, 40000, 2000):
                replies += c.pipeline([["SET", "k:%d" % j, VALUE] for j in range(i, i + 2000)])
            refused = [r for r in replies if isinstance(r, skvtest.RespError)]
            self.assertGreater(len(refused), 1000)
            self.assertTrue(all(str(r) == OOM for r in refused), refused[:3])
            self.assertEqual(int(info(c, "stats", "evicted_keys")), 0)
            self.assertLessEqual(used(c), 8 * MB + SLACK)
            self.assertEqual(str(self.at_bound(c, ["h"], "HSET", "h", "f", "v")), OOM)
            self.assertEqual(str(self.at_bound(c, ["s"], "SADD", "s", "m")), OOM)
            # Split over both shards: refused whole, before any part ran.
            pairs = [x for i in range(16) for x in ("m:%d" % i, "v")]
            self.assertEqual(str(self.at_bound(c, pairs[0::2], "MSET", *pairs)), OOM)
            self.assertEqual(c.call("EXISTS", *pairs[0::2]), 0)
            self.assertEqual(
                str(self.at_bound(c, ["dst"], "SUNIONSTORE", "dst", "k:0", "k:1", "k:2")), OOM)
            self.assertEqual(c.call("GET", "k:0"), VALUE)
            self.assertEqual(c.call("DEL", "k:0", "k:1"), 2)
            self.assertEqual(c.call("FLUSHALL"), "OK")
            self.assertEqual(c.call("SET", "after", "flush"), "OK")

    def test_config_set_below_usage_evicts_down_to_it(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--threads", "2",
                                               "--maxmemory-policy", "allkeys-random"]) as s:
            c = s.client(decode=True)
            for i in range(0, 60000, 5000):
                c.pipeline([["SET", "f:%d" % j, VALUE] for j in range(i, i + 5000)])
            self.assertGreater(used(c), 24 * MB)
            self.assertEqual(c.call("CONFIG", "SET", "maxmemory", "10mb"), "OK")
            deadline = time.monotonic() + 5
            while used(c) > 10 * MB + SLACK and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertLessEqual(used(c), 10 * MB + SLACK)
            self.assertGreater(int(info(c, "stats", "evicted_keys")), 20000)

    def test_one_byte_bound_keeps_the_server_answering(self):
        with skvtest.StrictShardkvServer(env=ENV, args=["--maxmemory", "1",
                                               "--maxmemory-policy", "allkeys-lru"]) as s:
            c = s.client(decode=True)
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(str(c.call("SET", "k", "v")), OOM)
            self.assertIsNone(c.call("GET", "k"))
            self.assertEqual(c.call("DBSIZE"), 0)

    def test_exec_is_judged_by_its_queue_like_redis(self):
        """Memory runs out between queueing and EXEC: Redis refuses an EXEC
        whose queue holds a deny-oom command (SET, a script whose shebang
        lacks allow-oom and no-writes) and runs one of reads, PING or legacy
        and allow-oom scripts; inside MULTI over the bound every command is
        refused."""
        queues = [[["SET", "k", "1"], ["GET", "k"]],
                  [["GET", "k"], ["PING"]],
                  [["EVAL", "#!lua flags=no-writes\nreturn 1", "0"], ["EVAL", "return 2", "0"]],
                  [["EVAL", "#!lua flags=allow-oom\nreturn 1", "0"]],
                  [["EVAL", "#!lua\nreturn 1", "0"]]]

        def transcript(srv):
            out = []
            with srv.client() as c, srv.client() as other:
                for q in queues:
                    out.append(c.call("MULTI"))
                    out += [c.call(*cmd) for cmd in q]
                    out.append(other.call("CONFIG", "SET", "maxmemory", "1"))
                    out.append(c.call("EXEC"))
                    out += [c.call("MULTI"), c.call("GET", "k"), c.call("EXEC")]
                    out.append(other.call("CONFIG", "SET", "maxmemory", "0"))
                out.append(c.call("INFO", "errorstats"))
            return out

        with skvtest.StrictShardkvServer(args=["--threads", "2"]) as s:
            ours = transcript(s)
        self.assertEqual(str(ours[4]), "EXECABORT Transaction discarded because of: " + OOM)
        with skvtest.RedisServer() as r:
            self.assertEqual(ours, transcript(r))

    def test_configuration_replies_match_redis(self):
        cmds = [["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "100mb"],
                ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "1g"],
                ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "-1"],
                ["CONFIG", "SET", "maxmemory", "12abc"], ["CONFIG", "SET", "maxmemory", "0"],
                ["CONFIG", "GET", "maxmemory-policy"],
                ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
                ["CONFIG", "GET", "maxmemory-policy"],
                ["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"],
                ["CONFIG", "GET", "maxmemory-policy"],
                ["CONFIG", "SET", "maxmemory-policy", "bogus"],
                ["CONFIG", "GET", "maxmemory-samples"], ["CONFIG", "SET", "maxmemory-samples", "0"],
                ["CONFIG", "SET", "maxmemory-samples", "64"],
                ["CONFIG", "SET", "maxmemory-samples", "65"], ["CONFIG", "SET", "maxmemory-samples", "5"],
                ["CONFIG", "GET", "maxmemory-eviction-tenacity"],
                ["CONFIG", "SET", "maxmemory-eviction-tenacity", "101"],
                ["CONFIG", "GET", "lfu-log-factor"], ["CONFIG", "SET", "lfu-log-factor", "-1"],
                ["CONFIG", "GET", "lfu-decay-time"], ["CONFIG", "SET", "lfu-decay-time", "5"],
                ["CONFIG", "GET", "lfu-decay-time"],
                ["SET", "k", "v"], ["GET", "k"], ["OBJECT", "FREQ", "k"],
                ["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["OBJECT", "FREQ", "k"]]
        with skvtest.RedisServer() as r, skvtest.StrictShardkvServer() as s:
            rc, sc = r.client(decode=True), s.client(decode=True)
            for cmd in cmds:
                want, got = rc.call(*cmd), sc.call(*cmd)
                self.assertEqual(repr(got), repr(want), cmd)


if __name__ == "__main__":
    skvtest.main()
