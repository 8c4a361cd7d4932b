// check.js — the calls Node applications make through ioredis, against the
// server on 127.0.0.1:PORT: the ready check (INFO), connectionName and db
// options, strings with EX, MSET/MGET, INCR errors, Buffers with CR/LF/NUL,
// pipelines, MULTI/EXEC, WATCH, scanStream, auto-pipelining, subscribe and
// psubscribe. Prints one
// JSON object of what came back; test_ioredis.py runs it against
// redis-server and shardkv and compares. Exits 1 if a call threw where it
// should not have (the message goes to stderr).
"use strict";

const Redis = require("ioredis");

const port = Number(process.argv[2]);
const opts = {
  host: "127.0.0.1",
  port,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null, // fail fast: a test, not an application
};

// An error reply as a value, so that both servers' errors are compared.
const errOf = (e) => "ERR:" + e.message;
const settle = (p) => p.then((v) => v, errOf);
// pipeline/multi results ([error, value] pairs) as values; null stays null.
const replies = (rows) => rows && rows.map(([e, v]) => (e ? errOf(e) : v));

async function main() {
  const out = {};
  const r = new Redis({ ...opts, db: 2, connectionName: "ioredis-compat" });
  await new Promise((resolve, reject) => {
    r.once("ready", resolve);
    r.once("error", reject);
  });
  out.status = r.status;
  out.name = await r.client("GETNAME");
  await r.flushall();

  out.set = await r.set("k", "v", "EX", 100);
  out.get = await r.get("k");
  const ttl = await r.ttl("k");
  out.ttlOk = ttl > 90 && ttl <= 100;
  out.setnx = await r.set("k", "w", "NX");
  out.mset = await r.mset({ a: "1", b: "2", c: "3" });
  out.mget = await r.mget("a", "b", "c", "nope");
  out.incr = await r.incr("n");
  out.incrby = await r.incrby("n", 41);
  out.incrErr = await settle(r.incr("k"));
  out.arityErr = await settle(r.call("GET"));
  out.unknown = await settle(r.call("NOSUCHCOMMAND", "x"));
  out.del = await r.del("a", "b", "zz");
  out.exists = await r.exists("a", "c", "k");
  out.expire = await r.expire("c", 50);
  out.persist = await r.persist("c");
  out.type = await r.type("c");
  out.rename = await r.rename("c", "c2");
  out.strlen = await r.strlen("c2");

  const bin = Buffer.from([0, 1, 13, 10, 255, 36, 42]);
  await r.set(Buffer.from([107, 0, 10]), bin);
  out.bin = (await r.getBuffer(Buffer.from([107, 0, 10]))).toString("hex");

  const p = r.pipeline();
  for (let i = 0; i < 200; i++) p.set("p:" + i, String(i));
  p.get("p:42");
  p.incr("k"); // an error inside the pipeline
  p.mget("p:1", "p:199", "p:200");
  out.pipeline = replies(await p.exec()).slice(-3);

  out.multi = replies(await r.multi().set("m", "1").incr("m").get("m").exec());
  out.multiErr = replies(await r.multi().set("m", "1").incr("k").get("m").exec());
  out.execAbort = await settle(r.multi().set("m", "2").call("GET").exec());
  out.m = await r.get("m");

  // WATCH: a write from another connection makes EXEC return null.
  const other = new Redis({ ...opts, db: 2 });
  await r.watch("w");
  await other.set("w", "theirs");
  out.watched = await r.multi().set("w", "mine").exec();
  out.w = await r.get("w");

  // Databases: the db option selects; db 0 does not see db 2's keys.
  const db0 = new Redis({ ...opts, db: 0 });
  out.db0k = await db0.get("k");

  const seen = new Set();
  await new Promise((resolve, reject) => {
    const s = r.scanStream({ match: "p:*", count: 16 });
    s.on("data", (keys) => keys.forEach((k) => seen.add(k)));
    s.on("end", resolve);
    s.on("error", reject);
  });
  out.scanned = seen.size;

  const auto = new Redis({ ...opts, db: 2, enableAutoPipelining: true });
  const counts = await Promise.all(Array.from({ length: 500 }, () => auto.incr("auto")));
  out.autoMax = Math.max(...counts);
  out.autoDistinct = new Set(counts).size;

  // Pub/Sub as Socket.IO's adapter and job queues use it: subscribe and
  // psubscribe on a subscriber connection, publish from another; messages
  // of one publisher arrive in order, a pattern message names its pattern.
  const sub = new Redis(opts);
  const got = [];
  sub.on("message", (ch, msg) => got.push(["message", ch, msg]));
  sub.on("pmessage", (pat, ch, msg) => got.push(["pmessage", pat, ch, msg]));
  out.subscribed = await sub.subscribe("news", "alerts");
  out.psubscribed = await sub.psubscribe("room:*");
  const pub = new Redis(opts);
  out.published = [];
  for (let i = 0; i < 20; i++) {
    out.published.push(await pub.publish(i % 2 ? "news" : "room:" + i, "m" + i));
  }
  out.numsub = await pub.pubsub("NUMSUB", "news", "alerts", "none");
  out.numpat = await pub.pubsub("NUMPAT");
  const deadline = Date.now() + 5000;
  while (got.length < 20 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  out.messages = got;
  out.unsubscribed = await sub.unsubscribe("news", "alerts");
  out.punsubscribed = await sub.punsubscribe("room:*");
  await Promise.all([sub.quit(), pub.quit()]);

  out.dbsize = await r.dbsize();
  out.infoHasLoading = (await r.info("persistence")).includes("loading:0");

  await Promise.all([r.quit(), other.quit(), db0.quit(), auto.quit()]);
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error("check.js: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
