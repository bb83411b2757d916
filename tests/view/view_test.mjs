// Browser test of the flood page (`gnutella view`): opens each page in headless Chromium
// (Debian's, driven by playwright-core) and checks what a teacher relies on.
//
// Usage: node view_test.mjs TRACE.jsonl PAGE.html [SCREENSHOT.png] ...(pairs or triples
// separated by "--"). Chromium: $CHROMIUM, else /usr/bin/chromium.
// Prints "N passed, M failed" and exits non-zero on any failure.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function readTrace(path) {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.trim());
  const header = JSON.parse(lines[0]);
  const records = new Map();
  const order = [];
  for (const line of lines.slice(1)) {
    const v = JSON.parse(line);
    if (!order.includes(v.q)) order.push(v.q);
    if (v.ev === "record") records.set(v.q, v.record);
  }
  return { header, records, order };
}

async function checkPage(browser, tracePath, pagePath, shot) {
  const trace = readTrace(tracePath);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  const requests = [];
  const url = pathToFileURL(resolve(pagePath)).href;
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => {
    if (r.url() !== url && !r.url().startsWith("data:")) requests.push(r.url());
  });
  await page.goto(url);
  await page.waitForFunction(() => window.gnutellaView !== undefined);
  const name = pagePath;

  const peers = await page.evaluate(() => gnutellaView.peers);
  check(peers === trace.header.peers.length, `${name}: draws ${peers} peers, trace has ${trace.header.peers.length}`);
  const queries = await page.evaluate(() => gnutellaView.queries);
  check(same(queries, trace.order), `${name}: lists the trace's queries`);

  let withHit = null;
  for (const guid of queries) {
    await page.evaluate((g) => gnutellaView.select(g), guid);
    check((await page.evaluate(() => gnutellaView.hop)) === 0, `${name} ${guid}: starts at hop 0`);
    const record = trace.records.get(guid);
    // Step hop by hop: the totals grow with the table's rows and end at the record.
    let steps = 0;
    let last = await page.evaluate(() => gnutellaView.totals);
    for (;;) {
      const before = await page.evaluate(() => gnutellaView.hop);
      const moved = await page.evaluate(() => gnutellaView.step());
      if (!moved) break;
      steps++;
      const now = await page.evaluate(() => ({ hop: gnutellaView.hop, totals: gnutellaView.totals, table: gnutellaView.table }));
      check(now.hop === before + 1, `${name} ${guid}: step() advances hop (${before} -> ${now.hop})`);
      const upTo = now.table.filter((r) => r.hop <= now.hop);
      const sum = (k) => upTo.reduce((s, r) => s + r[k], 0);
      check(
        now.totals.messages === sum("messages") &&
          now.totals.duplicates === sum("duplicates") &&
          now.totals.peers_reached === sum("new_peers") &&
          now.totals.hits === sum("hits"),
        `${name} ${guid}: totals at hop ${now.hop} equal the table's rows so far (${JSON.stringify(now.totals)})`
      );
      check(now.totals.messages >= last.messages, `${name} ${guid}: totals never shrink`);
      last = now.totals;
      if (steps > 300) break;
    }
    if (record) {
      check(
        same(last, { messages: record.messages, duplicates: record.duplicates, peers_reached: record.peers_reached, hits: record.hits }),
        `${name} ${guid}: totals at the last step ${JSON.stringify(last)} equal the record`
      );
      // By time too: the whole flood, then the record again.
      const byTime = await page.evaluate(() => { gnutellaView.seekMs(1e12); return gnutellaView.totals; });
      check(same(byTime, last), `${name} ${guid}: the time slider's end gives the same totals`);
      if (trace.header.peers.length <= 100) {
        // Per-peer statistics add up to the query's totals.
        const sums = await page.evaluate((ids) => {
          const s = { out: 0, dups: 0, answered: 0, cached: 0 };
          for (const id of ids) {
            const st = gnutellaView.peerStats(id);
            s.out += st.copies_out;
            s.dups += st.duplicates;
            s.answered += st.answered;
            s.cached += st.answered_from_cache;
          }
          return s;
        }, trace.header.peers.map((p) => p.id));
        check(sums.out === record.messages && sums.dups === record.duplicates,
          `${name} ${guid}: per-peer copies out and duplicates add up to the record (${JSON.stringify(sums)})`);
        if (record.answered !== undefined) {
          // A record's `answered` counts the answers from caches too.
          check(sums.answered + sums.cached === record.answered && sums.cached === record.answered_from_cache,
            `${name} ${guid}: per-peer answers (own files, cache) add up to the record (${JSON.stringify(sums)})`);
        }
      }
      await page.evaluate(() => gnutellaView.setMode("hop"));
    }
    if (record && record.hits > 0 && withHit === null) withHit = guid;
  }

  // A step by event moves one event; play advances on its own; pause stops.
  await page.evaluate((g) => gnutellaView.select(g), queries[0]);
  const e0 = await page.evaluate(() => { gnutellaView.stepEvent(); return gnutellaView.totals; });
  check(e0 !== null, `${name}: stepEvent works`);
  await page.evaluate(() => { gnutellaView.reset(); gnutellaView.play(); });
  await page.waitForFunction(() => gnutellaView.hop > 0, null, { timeout: 10000 }).catch(() => {});
  check((await page.evaluate(() => gnutellaView.hop)) > 0, `${name}: play() advances by itself`);
  await page.evaluate(() => gnutellaView.pause());
  check(!(await page.evaluate(() => gnutellaView.playing)), `${name}: pause() stops`);

  // Select another query, click a hit: its way back runs from the responder to the origin.
  if (withHit !== null) {
    await page.evaluate((g) => gnutellaView.select(g), withHit);
    const info = await page.evaluate(() => {
      while (gnutellaView.step()) {}
      return { hits: gnutellaView.hits };
    });
    check(info.hits.length > 0, `${name}: the query with hits lists them`);
    await page.click("#hits li[data-hit='0']");
    const path = await page.evaluate(() => gnutellaView.hitPath);
    const origin = trace.header.peers[readOrigin(tracePath, withHit)]?.id;
    check(path.length >= 2, `${name}: a clicked hit draws a path (${JSON.stringify(path)})`);
    check(path[0] === info.hits[0].responder, `${name}: the path starts at the responder`);
    check(path[path.length - 1] === origin, `${name}: the path ends at the origin ${origin}`);
    check(path.length - 1 === info.hits[0].hops || info.hits[0].hops === undefined, `${name}: the path is as long as the hit's hops`);
    // The picture a teacher sees: two hops in, the hit's path drawn at the end.
    await page.evaluate(() => { gnutellaView.reset(); gnutellaView.step(); gnutellaView.step(); });
    await page.evaluate(() => { while (gnutellaView.step()) {} gnutellaView.clickHit(0); });
  }
  const png = await page.evaluate(() => gnutellaView.png());
  check(png.startsWith("data:image/png;base64,") && png.length > 5000, `${name}: exports a PNG`);
  if (shot) {
    await page.screenshot({ path: shot });
  }
  check(errors.length === 0, `${name}: no console errors (${errors.join("; ")})`);
  check(requests.length === 0, `${name}: no network requests (${requests.join(", ")})`);
  await page.close();
}

function readOrigin(tracePath, guid) {
  const lines = readFileSync(tracePath, "utf8").split("\n").filter((l) => l.trim());
  for (const line of lines.slice(1)) {
    const v = JSON.parse(line);
    if (v.q === guid && v.ev === "start") return v.peer;
  }
  return -1;
}

const args = process.argv.slice(2);
const jobs = [];
let cur = [];
for (const a of args) {
  if (a === "--") {
    if (cur.length) jobs.push(cur);
    cur = [];
  } else cur.push(a);
}
if (cur.length) jobs.push(cur);
if (!jobs.length) {
  console.error("usage: node view_test.mjs TRACE PAGE [SHOT] [-- TRACE PAGE [SHOT]]...");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  for (const [tracePath, pagePath, shot] of jobs) {
    await checkPage(browser, tracePath, pagePath, shot);
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
