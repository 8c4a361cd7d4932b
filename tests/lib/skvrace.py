"""The race harness of the atomicity property tests: client functions run
in threads against one server until a deadline, and what any of them finds
wrong is collected. Used by tests/integration/test_*atomicity.py."""

import threading
import time

import skvtest


class Runner:
    """Runs worker functions in threads until a deadline; collects failures."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.failures = []
        self.errors = []
        self.lock = threading.Lock()
        self.counts = {}

    def fail(self, msg):
        with self.lock:
            if len(self.failures) < 5:
                self.failures.append(msg)
        self.stop.set()

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def run(self, fns, seconds, until=None, limit=None):
        """Run fns (fn(runner, client, i)) in threads for `seconds`; with
        until={name: n, ...}, go on past that, up to `limit` seconds in
        all (default 4 x seconds), while some counts[name] (counted as it
        happens) is below its n: a slow build (the sanitizers) gets the
        time to do the work the test checks instead of failing for want of
        it."""
        def wrap(fn, i):
            try:
                with skvtest.Client(self.port, timeout=30) as c:
                    fn(self, c, i)
            except Exception as e:  # a crash of the worker is a failure too
                with self.lock:
                    self.errors.append(repr(e))
                self.stop.set()

        threads = [threading.Thread(target=wrap, args=(fn, i)) for i, fn in enumerate(fns)]
        for t in threads:
            t.start()
        start = time.time()
        deadline = start + seconds
        while time.time() < deadline and not self.stop.is_set():
            time.sleep(0.05)
        if until:
            end = start + (limit if limit else 4 * seconds)
            while time.time() < end and not self.stop.is_set():
                with self.lock:
                    if all(self.counts.get(k, 0) >= n for k, n in until.items()):
                        break
                time.sleep(0.05)
        self.stop.set()
        for t in threads:
            t.join(60)
            if t.is_alive():
                raise AssertionError("a client thread hung (server stuck?)")
