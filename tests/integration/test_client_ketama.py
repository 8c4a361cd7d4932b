#!/usr/bin/python3
"""libshardkv's ketama ring against a real twemproxy (nutcracker).

Three redis-servers on free ports sit behind nutcracker with
`distribution: ketama` and `hash: fnv1a_64`. Keys are SET through the proxy
and found on the backends; libshardkv's skv_ring_locate (called through
ctypes on the built shared library) must name the same backend for every
key: with default names ("host:port"), with named servers, with weights,
and with a hash_tag. Needs /usr/sbin/nutcracker (Debian package nutcracker)."""

import ctypes
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skvtest  # noqa: E402
from skvtest import RedisServer, encode_command  # noqa: E402

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"


class SkvServer(ctypes.Structure):
    _fields_ = [("host", ctypes.c_char_p), ("port", ctypes.c_int),
                ("weight", ctypes.c_uint), ("name", ctypes.c_char_p)]


def load_lib():
    path = os.path.abspath(os.path.join(skvtest.bin_dir(), "..", "lib", "libshardkv.so"))
    # A sanitizer build's library needs its runtime loaded first (ASan aborts
    # a plain dlopen): run this script again with the runtimes that ldd names
    # preloaded. Python itself is not instrumented, so leak and race reports
    # (which would be about the interpreter) are turned off: placement is
    # what this test checks; the unit tests cover memory and threads.
    ldd = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    rt = [l.split("=>")[1].split()[0] for l in ldd.splitlines()
          if "=>" in l and any(s in l for s in ("libasan", "libtsan", "libubsan"))]
    if rt and not os.environ.get("SKV_KETAMA_REEXEC"):
        env = dict(os.environ, SKV_KETAMA_REEXEC="1", LD_PRELOAD=" ".join(rt),
                   ASAN_OPTIONS="detect_leaks=0", TSAN_OPTIONS="report_bugs=0")
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    lib = ctypes.CDLL(path)
    lib.skv_ring_create.restype = ctypes.c_void_p
    lib.skv_ring_create.argtypes = [ctypes.POINTER(SkvServer), ctypes.c_size_t, ctypes.c_char_p]
    lib.skv_ring_locate.restype = ctypes.c_size_t
    lib.skv_ring_locate.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.skv_ring_destroy.argtypes = [ctypes.c_void_p]
    return lib


def keys():
    rnd = random.Random(1234)
    out = [b"foo", b"bar", b"user:1000", b"{user}:1", b"{user}:2", b"a{b}c", b"\xff\x80key",
           b"x" * 300]
    for i in range(400):
        n = rnd.randint(1, 40)
        out.append(bytes(rnd.randint(0x21, 0xff) for _ in range(n)))
    # twemproxy (redis mode) needs distinct keys; keep the first of each.
    return list(dict.fromkeys(out))


class Ketama(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = LIB

    def run_case(self, weights, names, hash_tag):
        backends = [RedisServer().start() for _ in weights]
        tmp = tempfile.mkdtemp(prefix="skvtest-nc-")
        proxy = None
        try:
            port = skvtest.free_port()
            lines = ["pool:", "  listen: 127.0.0.1:%d" % port, "  hash: fnv1a_64",
                     "  distribution: ketama", "  redis: true", "  auto_eject_hosts: false"]
            if hash_tag:
                lines.append('  hash_tag: "%s"' % hash_tag)
            lines.append("  servers:")
            for b, w, n in zip(backends, weights, names):
                lines.append("   - 127.0.0.1:%d:%d%s" % (b.port, w, " " + n if n else ""))
            conf = os.path.join(tmp, "nc.yml")
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            proxy = subprocess.Popen([NUTCRACKER, "-c", conf, "-o", os.path.join(tmp, "nc.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=skvtest._die_with_parent)
            self.assertTrue(skvtest.wait_port(port, proxy), "nutcracker did not start")
            ks = keys()
            c = skvtest.Client(port)
            # One pipelined burst through the proxy.
            c.send_raw(b"".join(encode_command("SET", k, "v") for k in ks))
            for _ in ks:
                self.assertEqual(c.read_reply(), "OK")
            c.close()
            where = {}
            for i, b in enumerate(backends):
                bc = b.client()
                for k in bc.call("KEYS", "*"):
                    where[bytes(k)] = i
                bc.close()
            self.assertEqual(len(where), len(ks))

            arr = (SkvServer * len(backends))()
            for i, (b, w, n) in enumerate(zip(backends, weights, names)):
                arr[i] = SkvServer(b"127.0.0.1", b.port, w, n.encode() if n else None)
            ring = self.lib.skv_ring_create(arr, len(backends),
                                            hash_tag.encode() if hash_tag else None)
            self.assertTrue(ring)
            try:
                wrong = [k for k in ks if self.lib.skv_ring_locate(ring, k, len(k)) != where[k]]
            finally:
                self.lib.skv_ring_destroy(ring)
            self.assertEqual(wrong, [], "%d of %d keys placed differently" % (len(wrong), len(ks)))
            # Every backend got some keys: the test is not vacuous.
            self.assertEqual(sorted(set(where.values())), list(range(len(backends))))
        finally:
            if proxy is not None:
                proxy.kill()
                proxy.wait()
            for b in backends:
                b.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_default_names(self):
        self.run_case([1, 1, 1], [None, None, None], None)

    def test_named_servers(self):
        self.run_case([1, 1, 1], ["alpha", "beta", "gamma"], None)

    def test_weights(self):
        self.run_case([1, 3, 2], [None, None, None], None)

    def test_hash_tag(self):
        self.run_case([1, 1, 1], [None, None, None], "{}")


LIB = load_lib()  # before any server starts: it may re-exec this script

if __name__ == "__main__":
    skvtest.main()
