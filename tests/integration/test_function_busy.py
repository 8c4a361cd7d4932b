#!/usr/bin/python3
"""Long functions (FCALL past busy-reply-threshold), against redis-server
7.0 reply for reply: other clients get the -BUSY that names FUNCTION KILL,
EXEC aborts with it, SCRIPT KILL is refused for a function, FUNCTION STATS
shows the running function and its command, FUNCTION KILL stops it and
its client gets Redis's error with the function's name; the other way
round, FUNCTION KILL and FUNCTION STATS are refused while an EVAL is busy;
a function that wrote is UNKILLABLE. Over keys of one shard and of several
(the function runs on its connection's thread between its commands).
Servers run on free loopback ports and are always stopped.
"""

import unittest

import skvtest
from test_script_busy import both, connect, wait_busy

LIBRARY = """#!lua name=busy
redis.register_function('spin', function(keys, args) while true do end end)
redis.register_function('across', function(keys, args)
  for i = 1, #keys do redis.call('get', keys[i]) end
  while true do end
end)
redis.register_function('wrote', function(keys, args)
  redis.call('set', keys[1], '1')
  while true do end
end)
"""


def stats_without_duration(r):
    """FUNCTION STATS with running_script's duration_ms taken out."""
    if isinstance(r, skvtest.RespError):
        return r
    running = r[1]
    if isinstance(running, list):
        running = running[:-1]  # [name, n, command, [...], duration_ms, ms]: ms
        running[-1] = "duration_ms"
    return [r[0], running] + r[2:]


def function_scenario(srv, fname, keys):
    a, b, k = connect(srv, 3)
    seen = [k.call("CONFIG", "SET", "busy-reply-threshold", "100"),
            k.call("FUNCTION", "LOAD", LIBRARY)]
    a.send("FCALL", fname, str(len(keys)), *keys, "arg")
    seen.append(wait_busy(b))
    seen.append(b.call("SET", "probe", "1"))
    seen.append(b.call("EXEC"))
    seen.append(k.call("SCRIPT", "KILL"))
    seen.append(stats_without_duration(k.call("FUNCTION", "STATS")))
    seen.append(k.call("FUNCTION", "KILL"))
    seen.append(a.read_reply())
    seen.append(b.call("SET", "probe", "2"))
    seen.append(k.call("FUNCTION", "KILL"))
    # An EVAL busy: the FUNCTION side refuses.
    a.send("EVAL", "while true do end", "0")
    seen.append(wait_busy(b))
    seen.append(k.call("FUNCTION", "KILL"))
    seen.append(k.call("FUNCTION", "STATS"))
    seen.append(k.call("SCRIPT", "KILL"))
    seen.append(a.read_reply())
    for c in (a, b, k):
        c.close()
    return seen


def unkillable_scenario(srv):
    a, b, k = connect(srv, 3)
    k.call("CONFIG", "SET", "busy-reply-threshold", "100")
    k.call("FUNCTION", "LOAD", LIBRARY)
    a.send("FCALL", "wrote", "1", "w")
    seen = [wait_busy(b), k.call("FUNCTION", "KILL"), k.call("SCRIPT", "KILL")]
    k.send("SHUTDOWN", "NOSAVE")
    seen.append(k.is_closed(10.0))
    seen.append(srv.proc.wait(10))
    for c in (a, b, k):
        c.close()
    return seen


class FunctionBusy(unittest.TestCase):
    def test_kill_a_function_on_one_shard(self):
        ours, theirs = both(function_scenario, "spin", ["k1"])
        self.assertEqual(ours, theirs)
        self.assertEqual(str(ours[2]), "BUSY Redis is busy running a script. You can only "
                                       "call FUNCTION KILL or SHUTDOWN NOSAVE.")
        self.assertEqual(ours[6][1][:4], [b"name", b"spin", b"command",
                                          [b"FCALL", b"spin", b"1", b"k1", b"arg"]])
        self.assertTrue(str(ours[8]).startswith("ERR Script killed by user with SCRIPT KILL... "
                                                "script: spin, on @user_function:"), ours[8])

    def test_kill_a_function_over_keys_of_several_shards(self):
        ours, theirs = both(function_scenario, "across", ["acct:0", "acct:1", "acct:2"])
        self.assertEqual(ours, theirs)

    def test_unkillable_then_shutdown_nosave(self):
        ours, theirs = both(unkillable_scenario)
        self.assertEqual(ours, theirs)
        self.assertTrue(str(ours[1]).startswith("UNKILLABLE Sorry the script already executed"))


if __name__ == "__main__":
    skvtest.main()
