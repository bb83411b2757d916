// Browser test of the live page (`gnutella launch CONFIG --ui 127.0.0.1:0`): launches the
// network, opens the printed URL in headless Chromium (Debian's, driven by playwright-core)
// and does what a teacher does: sees the peers, searches from the form and watches the
// flood arrive (its totals equal the query's record in GET /report), kills a peer with its
// button and sees it drawn down, revives it.
//
// Usage: node live_test.mjs GNUTELLA_BIN CONFIG(with port-0 peers) OUT_DIR [LAUNCH_FLAG...]
// (e.g. `--shards 2`: the children trace their peers and the launch merges the floods).
// Chromium: $CHROMIUM, else /usr/bin/chromium. Prints "N passed, M failed".
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}

const [bin, configPath, out, ...extra] = process.argv.slice(2);
if (!out) {
  console.error("usage: node live_test.mjs GNUTELLA_BIN CONFIG OUT_DIR");
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, "utf8"));
const ids = config.peers.map((p) => p.id);

// The launch, and the URL it prints.
const launch = spawn(bin, ["launch", configPath, "--ui", "127.0.0.1:0", ...extra], { stdio: ["ignore", "pipe", "inherit"] });
const exited = new Promise((done) => launch.on("exit", (code, signal) => done({ code, signal })));
const url = await new Promise((resolve, reject) => {
  let text = "";
  const timer = setTimeout(() => reject(new Error(`no "live page on" line within 60 s:\n${text}`)), 60000);
  launch.stdout.on("data", (chunk) => {
    text += chunk;
    const m = text.match(/live page on (http:\/\/127\.0\.0\.1:\d+)\//);
    // The page takes calls once the overlay is up: wait for that line too.
    if (m && /running until Ctrl-C/.test(text)) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  });
  launch.on("exit", () => reject(new Error(`the launch ended:\n${text}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  const foreign = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  await page.goto(url + "/");
  await page.waitForFunction(() => window.gnutellaView !== undefined);
  check(await page.evaluate(() => gnutellaView.live), "the page is live");
  check((await page.evaluate(() => gnutellaView.peers)) === ids.length, `draws the ${ids.length} peers`);
  await page.waitForFunction((n) => gnutellaView.statuses.length === n && gnutellaView.down.length === 0, ids.length, { timeout: 15000 });
  const links = await page.evaluate(() => gnutellaView.links);
  check(links >= ids.length - 1, `draws the links up (${links})`);
  await page.screenshot({ path: join(out, "live-idle.png") });

  // A search typed in the form: its flood arrives, its totals equal the record.
  await page.selectOption("#searchFrom", "p0");
  await page.fill("#searchWords", "jazz");
  await page.fill("#searchTtl", "7");
  await page.click("#searchGo");
  await page.waitForFunction(() => /hit/.test(document.getElementById("searchResult").textContent), null, { timeout: 30000 });
  const report = await (await fetch(url + "/report")).json();
  const record = report.queries[report.queries.length - 1];
  check(record && record.query === "jazz" && record.origin === "p0", `GET /report holds the search (${JSON.stringify(record && record.query)})`);
  const want = { messages: record.messages, duplicates: record.duplicates, peers_reached: record.peers_reached, hits: record.hits };
  const shown = await page.waitForFunction(
    (w) => {
      const v = window.gnutellaView;
      if (v.selected === null) return false;
      const t = v.totals;
      return t.messages === w.messages && t.duplicates === w.duplicates && t.peers_reached === w.peers_reached && t.hits === w.hits ? t : false;
    },
    want,
    { timeout: 15000 }
  ).then((h) => h.jsonValue()).catch(() => null);
  check(shown !== null, `the flood's rows arrive and their totals equal the record ${JSON.stringify(want)} (page: ${JSON.stringify(await page.evaluate(() => gnutellaView.totals))})`);
  check((await page.evaluate(() => gnutellaView.selected)) === record.guid, "the new query is selected");
  check(record.hits > 0 && (await page.evaluate(() => gnutellaView.hits.length)) === record.hits, "its hits are listed");
  const table = await page.evaluate(() => gnutellaView.table);
  const sum = (k) => table.reduce((s, r) => s + r[k], 0);
  check(sum("messages") === record.messages && sum("new_peers") === record.peers_reached, "the per-hop table adds up to the record");
  const c0 = await page.evaluate(() => gnutellaView.counters("p0"));
  check(c0 && c0.out > 0, `per-peer counters count the origin's copies (${JSON.stringify(c0)})`);
  const rowText = await page.textContent("#peerTable tr[data-peer='p0']");
  check(rowText.includes(String(c0.out)), `the peers table shows them (${rowText})`);

  // A peer clicked in the table shows its statistics (GET /peers' `stats`, the
  // --peer-stats row); over the peers they add up to the records of GET /report.
  await page.click("#peerTable tr[data-peer='p0'] td:first-child");
  check((await page.evaluate(() => gnutellaView.picked)) === "p0", "clicking p0's row picks it");
  const listed = await (await fetch(url + "/peers")).json();
  const all = (await (await fetch(url + "/report")).json()).queries;
  const ofPeers = (f) => listed.reduce((s, p) => s + (p.stats ? f(p.stats) : NaN), 0);
  const ofQueries = (k) => all.reduce((s, q) => s + q[k], 0);
  check(ofPeers((s) => s.messages_out.query) === ofQueries("messages"),
    `the peers' query copies out add up to the records' messages (${ofPeers((s) => s.messages_out.query)} vs ${ofQueries("messages")})`);
  check(ofPeers((s) => s.duplicates) === ofQueries("duplicates"), "the peers' duplicates add up to the records'");
  check(ofPeers((s) => s.answered + s.answered_from_cache) === ofQueries("answered"),
    "the peers' answers add up to the records'");
  const s0 = listed.find((p) => p.id === "p0").stats;
  const panel = await page.waitForFunction(
    (want) => {
      const box = document.getElementById("peerStats");
      const row = box.querySelector("tr[data-type='query']");
      return !box.hidden && /p0/.test(box.textContent) && row && row.textContent === "query" + want.in + want.out ? box.textContent : false;
    },
    { in: s0.messages_in.query, out: s0.messages_out.query },
    { timeout: 15000 }
  ).then((h) => h.jsonValue()).catch(() => null);
  check(panel !== null, `p0's statistics are shown: query in ${s0.messages_in.query}, out ${s0.messages_out.query} (${await page.textContent("#peerStats")})`);
  await page.screenshot({ path: join(out, "live-search.png") });

  // Kill a peer with its button: drawn down, its row says so; revive it.
  const victim = ids.includes("p4") ? "p4" : ids[ids.length - 1];
  await page.click(`#peerTable button[data-act='kill'][data-peer='${victim}']`);
  await page.waitForFunction((v) => gnutellaView.down.includes(v), victim, { timeout: 15000 }).catch(() => {});
  check((await page.evaluate(() => gnutellaView.down)).join() === victim, `${victim} is drawn down after its Kill button`);
  check((await page.getAttribute(`#peerTable tr[data-peer='${victim}']`, "class")) === "down", `its row says down`);
  await page.screenshot({ path: join(out, "live-killed.png") });
  await page.click(`#peerTable button[data-act='revive'][data-peer='${victim}']`);
  await page.waitForFunction((v) => !gnutellaView.down.includes(v), victim, { timeout: 15000 }).catch(() => {});
  check((await page.evaluate(() => gnutellaView.down)).length === 0, `${victim} is up again after its Revive button`);
  await page.waitForFunction((v) => {
    const s = gnutellaView.statuses.find((x) => x.id === v);
    return s && s.degree > 0;
  }, victim, { timeout: 30000 }).catch(() => {});
  const back = await page.evaluate((v) => gnutellaView.statuses.find((x) => x.id === v), victim);
  check(back && back.degree > 0, `${victim} has links again (${back && back.degree})`);

  check(errors.length === 0, `no console errors (${errors.join("; ")})`);
  // A search the network refuses is said on the page, not thrown (the browser logs the
  // 400 answer itself).
  await page.fill("#searchWords", "   ");
  await page.evaluate(() => document.getElementById("searchWords").removeAttribute("required"));
  await page.click("#searchGo");
  await page.waitForFunction(() => /refused/.test(document.getElementById("searchResult").textContent), null, { timeout: 10000 }).catch(() => {});
  check(/refused/.test(await page.textContent("#searchResult")), "a bad search is refused on the page");
  const late = errors.filter((e) => !/status of 400/.test(e));
  check(late.length === 0, `no console errors but the refused search's 400 (${late.join("; ")})`);
  check(foreign.length === 0, `no request leaves the launch's server (${foreign.join(", ")})`);
  await page.close();
} finally {
  await browser.close();
  launch.kill("SIGINT");
}
const end = await exited;
check(end.code === 0, `the launch ends cleanly on Ctrl-C (${JSON.stringify(end)})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
