#!/usr/bin/python3
"""Debian's prometheus-redis-exporter scrapes shardkv as operators run it:
its log (at debug level) must hold no error or warning, and it must export
every metric family it exports for redis-server 7.0 after the same
commands, except those of features shardkv does not have (EXCLUDED, each
with its reason). The reference list is taken from a redis-server started
by this test, so a newer exporter or Redis updates it by itself."""

import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, ShardkvServer, free_port  # noqa: E402

EXPORTER = "/usr/bin/prometheus-redis-exporter"

# Families redis-server has and shardkv does not, by the feature missing.
EXCLUDED = {
    # Replication: no replicas, no replication backlog.
    "redis_master_repl_offset", "redis_second_repl_offset", "redis_repl_backlog_is_active",
    "redis_repl_backlog_first_byte_offset", "redis_repl_backlog_history_bytes",
    "redis_replication_backlog_bytes", "redis_replica_resyncs_full",
    "redis_replica_partial_resync_accepted", "redis_replica_partial_resync_denied",
    "redis_slave_expires_tracked_keys", "redis_mem_clients_slaves",
    "redis_unexpected_error_replies",  # errors from a master or the AOF
    # AOF: snapshots only.
    "redis_aof_current_rewrite_duration_sec", "redis_aof_last_bgrewrite_status",
    "redis_aof_last_cow_size_bytes", "redis_aof_last_rewrite_duration_sec",
    "redis_aof_last_write_status", "redis_aof_rewrite_scheduled",
    # fork(): snapshots are copy-on-write inside the process, never a child.
    "redis_latest_fork_seconds", "redis_rdb_last_cow_size_bytes",
    # Modules.
    "redis_module_fork_in_progress", "redis_module_fork_last_cow_size",
    # Cluster mode (cluster_enabled itself is exported: 0).
    "redis_cluster_connections",
    # Redis's I/O threads: every worker does its own I/O here.
    "redis_config_io_threads", "redis_io_threads_active",
    "redis_io_threaded_reads_processed", "redis_io_threaded_writes_processed",
    # Active defragmentation.
    "redis_active_defrag_running", "redis_defrag_hits", "redis_defrag_misses",
    "redis_defrag_key_hits", "redis_defrag_key_misses",
    # Client-side caching (CLIENT TRACKING).
    "redis_tracking_clients", "redis_tracking_total_items", "redis_tracking_total_keys",
    "redis_tracking_total_prefixes",
    # Blocking commands (their timeout table).
    "redis_clients_in_timeout_table",
    # MIGRATE.
    "redis_migrate_cached_sockets_total",
    # RESTORE's sanitize-dump-payload option.
    "redis_dump_payload_sanitizations",
    # A main thread: N worker threads, none of them main.
    "redis_cpu_sys_main_thread_seconds_total", "redis_cpu_user_main_thread_seconds_total",
}

# The same commands on both servers before the scrape: keys with and
# without a TTL, hits and misses, a slow log entry.
SETUP = [
    ("SET", "a", "1"), ("SET", "b", "2", "EX", "100"), ("GET", "a"), ("GET", "missing"),
    ("SADD", "s", "x", "y"), ("HSET", "h", "f", "v"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "0"), ("GET", "a"),
    ("CONFIG", "SET", "latency-monitor-threshold", "100"),
]

BAD_LOG = re.compile(r'level=(warning|error|fatal|panic)|\bERR\b|unknown command', re.I)


def scrape(port, times=2):
    """Run the exporter against 127.0.0.1:port, scrape /metrics `times`
    times; returns (families, metrics text, exporter log)."""
    web = free_port()
    log_path = "/tmp/skv-exporter-%d.log" % web
    with open(log_path, "wb") as logf:
        p = subprocess.Popen([EXPORTER, "-debug", "-redis.addr", "redis://127.0.0.1:%d" % port,
                              "-web.listen-address", "127.0.0.1:%d" % web],
                             stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        if not skvtest.wait_port(web, p):
            raise AssertionError("exporter did not listen")
        text = ""
        for _ in range(times):
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % web, timeout=20) as r:
                text = r.read().decode()
            time.sleep(0.2)
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        with open(log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        os.unlink(log_path)
    fams = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    fams = {f for f in fams if f.startswith("redis_")}
    return fams, text, log


class RedisExporter(unittest.TestCase):
    def setUp(self):
        if not os.access(EXPORTER, os.X_OK):
            self.fail("prometheus-redis-exporter missing: bash scripts/install-deps.sh all")

    def prepare(self, port):
        with skvtest.Client(port, decode=True) as c:
            for cmd in SETUP:
                c.call(*cmd)

    def test_families_and_clean_log(self):
        with RedisServer() as r:
            self.prepare(r.port)
            want, _, rlog = scrape(r.port)
        self.assertGreater(len(want), 100, "the reference scrape exported too little")
        self.assertNotRegex("\n".join(l for l in rlog.splitlines() if BAD_LOG.search(l)), ".",
                            "the exporter complains about redis-server itself")
        with ShardkvServer(["--threads", "2"]) as s:
            self.prepare(s.port)
            got, text, log = scrape(s.port)
        bad = [l for l in log.splitlines() if BAD_LOG.search(l)]
        self.assertEqual(bad, [], "exporter log:\n" + log[-4000:])
        self.assertIn("redis_up 1", text)
        missing = sorted(want - got - EXCLUDED)
        self.assertEqual(missing, [], "families exported for redis-server only")
        # An exclusion that is exported now is stale: drop it from the list.
        stale = sorted(EXCLUDED & got)
        self.assertEqual(stale, [], "excluded families shardkv exports")
        # The figures behind the dashboards are real, not placeholders.
        m = dict(re.findall(r"^(redis_keyspace_(?:hits|misses)_total) (\S+)$", text, re.M))
        self.assertEqual(float(m["redis_keyspace_hits_total"]), 2.0)
        self.assertEqual(float(m["redis_keyspace_misses_total"]), 1.0)
        self.assertRegex(text, r'(?m)^redis_db_avg_ttl_seconds\{db="db0"\} [1-9]')
        self.assertRegex(text, r"(?m)^redis_slowlog_length [1-9]")


if __name__ == "__main__":
    skvtest.main()
