// The flood page: replays traced queries on the overlay (see src/view/mod.rs).
// Plain canvas, no library, nothing fetched. window.gnutellaView is the scripting API.
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("gnutella-data").textContent);
  var N = DATA.peers.length;
  var ids = DATA.peers.map(function (p) { return String(p[0]); });
  var X = DATA.peers.map(function (p) { return p[1]; });
  var Y = DATA.peers.map(function (p) { return p[2]; });
  var LINKS = DATA.links;

  // Row codes (src/view/page.rs).
  var START = 0, SEND = 1, FIRST = 2, DUP = 3, REFORWARD = 4, DROP = 5, ANSWERED = 6,
    HIT_ROUTED = 7, HIT_DROPPED = 8, HIT_DELIVERED = 9;

  // Hop colours: hop 1 warm, far hops cool (colour-blind-safe sequence).
  var PALETTE = ["#1d2430", "#d7301f", "#fc8d59", "#fdcc8a", "#9ecae1", "#4292c6",
    "#2171b5", "#6a51a3", "#3f007d"];
  function hopColour(h) { return PALETTE[Math.min(Math.max(h, 0), PALETTE.length - 1)]; }

  var queries = [];           // {guid, rows, dirty, ...built fields}
  var current = -1;           // selected query index
  var mode = "hop";           // "hop" or "time"
  var pos = 0, prevPos = 0;   // events applied: order[0..pos); the last step began at prevPos
  var hop = 0;                // current hop
  var timer = null;
  var selectedHit = -1;

  function addQuery(guid) {
    for (var i = 0; i < queries.length; i++) if (queries[i].guid === guid) return i;
    queries.push({ guid: guid, rows: [], dirty: true, record: null });
    return queries.length - 1;
  }
  DATA.queries.forEach(function (g, i) {
    addQuery(g);
    queries[i].record = DATA.records[i] || null;
  });

  // ----- building a query's replay ------------------------------------------------------

  function servantName(s) { return s >= 0 && DATA.servents[s] ? DATA.servents[s] : ""; }

  function build(Q) {
    var rows = Q.rows, i, r;
    var origin = -1, t0 = Infinity, words = "", ttl = null, strategy = "";
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      if (r[1] < t0) t0 = r[1];
      if (r[0] === START && origin < 0) { origin = r[3]; ttl = r[4]; words = r[5]; strategy = r[6]; }
    }
    if (origin < 0) {
      for (i = 0; i < rows.length; i++) if (rows[i][0] === SEND && rows[i][5] === 1) { origin = rows[i][3]; break; }
    }
    if (!isFinite(t0)) t0 = 0;
    // The hop at which each peer first took the query (the least, if it took several).
    var firstHop = new Map(), parent = new Map();
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      if (r[0] === FIRST && r[3] !== origin) {
        if (!firstHop.has(r[3]) || r[5] < firstHop.get(r[3])) { firstHop.set(r[3], r[5]); parent.set(r[3], r[4]); }
      }
    }
    // Each servent's hits: who answered (sent it without receiving it) and at which hop.
    var senders = new Map(), receivers = new Map(), delivered = new Map();
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      if (r[0] === HIT_ROUTED && r[7] >= 0) {
        if (!senders.has(r[7])) senders.set(r[7], []);
        senders.get(r[7]).push(r[3]);
        if (!receivers.has(r[7])) receivers.set(r[7], new Set());
        if (r[4] >= 0) receivers.get(r[7]).add(r[4]);
      } else if (r[0] === HIT_DELIVERED && r[7] >= 0 && !delivered.has(r[7])) {
        delivered.set(r[7], r[5]);
      }
    }
    var responder = new Map(), servantHop = new Map();
    senders.forEach(function (list, s) {
      var recv = receivers.get(s) || new Set();
      for (var k = 0; k < list.length; k++) if (!recv.has(list[k])) { responder.set(s, list[k]); break; }
      var who = responder.get(s);
      var h = who !== undefined && firstHop.has(who) ? firstHop.get(who) : delivered.get(s);
      if (h !== undefined) servantHop.set(s, h);
    });
    delivered.forEach(function (h, s) { if (!servantHop.has(s)) servantHop.set(s, h); });
    function peerHop(p) { return firstHop.has(p) ? firstHop.get(p) : 0; }
    var maxHop = 0;
    var events = rows.map(function (r, i) {
      var h;
      switch (r[0]) {
        case START: h = 0; break;
        case SEND: h = r[5]; break;
        case FIRST: case DUP: case REFORWARD: case DROP: h = r[5] >= 0 ? r[5] : peerHop(r[3]); break;
        case ANSWERED: h = peerHop(r[3]); break;
        case HIT_ROUTED: case HIT_DELIVERED: h = servantHop.has(r[7]) ? servantHop.get(r[7]) : peerHop(r[3]); break;
        case HIT_DROPPED: h = servantHop.has(r[6]) ? servantHop.get(r[6]) : peerHop(r[3]); break;
        default: h = 0;
      }
      if (h > maxHop) maxHop = h;
      return { r: r, i: i, hop: h, t: r[1] - t0 };
    });
    var byHop = events.slice().sort(function (a, b) { return a.hop - b.hop || a.t - b.t || a.i - b.i; });
    var byTime = events.slice().sort(function (a, b) { return a.t - b.t || a.i - b.i; });
    var duration = byTime.length ? byTime[byTime.length - 1].t : 0;
    // The per-hop table.
    var table = [];
    for (var h = 0; h <= maxHop; h++) table.push({ hop: h, newPeers: 0, messages: 0, duplicates: 0, hits: 0 });
    firstHop.forEach(function (h) { table[h].newPeers++; });
    events.forEach(function (e) {
      if (e.r[0] === SEND) table[e.hop].messages++;
      else if (e.r[0] === DUP) table[e.hop].duplicates++;
      else if (e.r[0] === HIT_DELIVERED) table[e.hop].hits++;
    });
    // The hits that reached the origin, in arrival order.
    var hits = [];
    byTime.forEach(function (e) {
      var r = e.r;
      if (r[0] !== HIT_DELIVERED) return;
      var who = responder.has(r[7]) ? responder.get(r[7]) : -1;
      hits.push({ servent: r[7], responder: who, hops: r[5], records: r[6], t: e.t, hop: e.hop, cached: r[8] >= 0 ? r[8] : null });
    });
    Q.origin = origin; Q.t0 = t0; Q.words = words; Q.ttl = ttl; Q.strategy = strategy;
    Q.firstHop = firstHop; Q.parent = parent; Q.responder = responder;
    Q.events = events; Q.byHop = byHop; Q.byTime = byTime; Q.maxHop = maxHop; Q.duration = duration;
    Q.table = table; Q.hits = hits; Q.dirty = false;
  }

  function Q() {
    var q = queries[current];
    if (q && q.dirty) build(q);
    return q;
  }
  function order() { var q = Q(); return mode === "hop" ? q.byHop : q.byTime; }

  // ----- moving through a query -----------------------------------------------------------

  // Index just past the last event with hop <= h (hop mode).
  function endOfHop(h) {
    var o = Q().byHop, k = 0;
    while (k < o.length && o[k].hop <= h) k++;
    return k;
  }
  function endOfTime(ms) {
    var o = Q().byTime, k = 0;
    while (k < o.length && o[k].t <= ms) k++;
    return k;
  }
  function hopAt(p) {
    var o = order(), h = 0;
    for (var k = 0; k < p; k++) if (o[k].hop > h) h = o[k].hop;
    return h;
  }

  function moveTo(p, h) {
    prevPos = pos;
    pos = Math.max(0, Math.min(p, order().length));
    hop = h === undefined ? hopAt(pos) : h;
    if (prevPos > pos) prevPos = pos;
    render();
  }

  function reset() {
    pause();
    prevPos = 0;
    pos = 0;
    if (mode === "hop") moveTo(endOfHop(0), 0); else moveTo(0, 0);
    prevPos = pos;
    render();
  }

  function step() {
    var q = Q();
    if (mode === "hop") {
      if (hop >= q.maxHop && pos >= q.byHop.length) return false;
      var h = Math.min(hop + 1, q.maxHop);
      moveTo(endOfHop(h), h);
      return true;
    }
    var o = q.byTime;
    if (pos >= o.length) return false;
    var t = o[pos].t;
    moveTo(endOfTime(t));
    return true;
  }

  function stepEvent() {
    if (pos >= order().length) return false;
    moveTo(pos + 1);
    return true;
  }

  function play() {
    if (timer !== null) return;
    if (pos >= order().length) reset();
    var speed = Number(document.getElementById("speed").value) || 1;
    if (mode === "hop") {
      timer = setInterval(function () { if (!step()) pause(); }, 900 / speed);
    } else {
      var q = Q(), tick = 40;
      var span = Math.max(q.duration, 1) / 150;
      var at = pos > 0 ? order()[pos - 1].t : 0;
      timer = setInterval(function () {
        at += span * speed;
        moveTo(endOfTime(at));
        if (pos >= order().length) pause();
      }, tick);
    }
    document.getElementById("play").disabled = true;
  }

  function pause() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    document.getElementById("play").disabled = false;
  }

  function totals() {
    var o = order(), q = Q();
    var t = { messages: 0, duplicates: 0, peers_reached: 0, hits: 0 };
    var reached = new Set();
    for (var k = 0; k < pos; k++) {
      var r = o[k].r;
      if (r[0] === SEND) t.messages++;
      else if (r[0] === DUP) t.duplicates++;
      else if (r[0] === FIRST && r[3] !== q.origin) reached.add(r[3]);
      else if (r[0] === HIT_DELIVERED) t.hits++;
    }
    t.peers_reached = reached.size;
    return t;
  }

  // What one peer did in the selected query up to the current step.
  function peerStats(p) {
    var o = order();
    var st = { copies_in: 0, copies_out: 0, duplicates: 0, reforwards: 0, dropped: 0, answered: 0,
      answered_from_cache: 0, hits_sent: 0, hits_relayed: 0 };
    for (var k = 0; k < pos; k++) {
      var r = o[k].r;
      if (r[3] !== p) continue;
      switch (r[0]) {
        case SEND: st.copies_out++; break;
        case FIRST: st.copies_in++; break;
        case DUP: st.copies_in++; st.duplicates++; break;
        case REFORWARD: st.copies_in++; st.reforwards++; break;
        case DROP: st.dropped++; break;
        case ANSWERED: if (r[5]) st.answered_from_cache++; else st.answered++; break;
        case HIT_ROUTED: if (r[5] === 1) st.hits_sent++; else st.hits_relayed++; break;
      }
    }
    return st;
  }

  function select(guid) {
    var i = typeof guid === "number" ? guid : -1;
    for (var k = 0; k < queries.length && i < 0; k++) if (queries[k].guid === guid) i = k;
    if (i < 0 || i >= queries.length) return false;
    pause();
    current = i;
    selectedHit = -1;
    document.getElementById("query").value = String(i);
    reset();
    return true;
  }

  // The way a hit came back: from its responder along the links it was routed on.
  function hitPath(hit) {
    var q = Q();
    if (!hit) return [];
    var next = new Map();
    q.byTime.forEach(function (e) {
      var r = e.r;
      if (r[0] === HIT_ROUTED && r[7] === hit.servent && r[4] >= 0 && !next.has(r[3])) next.set(r[3], r[4]);
    });
    var start = hit.responder;
    if (start < 0) return [];
    var path = [start], seen = new Set([start]), at = start;
    while (next.has(at)) {
      at = next.get(at);
      if (seen.has(at)) break;
      seen.add(at);
      path.push(at);
    }
    return path;
  }

  function clickHit(i) {
    var q = Q();
    if (i < 0 || i >= q.hits.length) { selectedHit = -1; render(); return []; }
    selectedHit = i;
    render();
    return hitPath(q.hits[i]).map(function (p) { return ids[p]; });
  }

  // ----- drawing --------------------------------------------------------------------------

  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var view = { scale: 1, ox: 0, oy: 0, r: 4 };

  function fitCanvas() {
    var ratio = window.devicePixelRatio || 1;
    var w = Math.max(320, Math.floor(canvas.clientWidth * ratio));
    var h = Math.max(320, Math.floor(canvas.clientHeight * ratio));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var top = 84 * ratio, margin = 28 * ratio;
    var side = Math.min(w - 2 * margin, h - top - margin);
    view.scale = side / 1000;
    view.ox = (w - side) / 2;
    view.oy = top + (h - top - margin - side) / 2;
    view.r = Math.max(1.5, Math.min(11, 260 / Math.sqrt(Math.max(N, 1)))) * ratio;
    view.ratio = ratio;
  }
  function sx(p) { return view.ox + X[p] * view.scale; }
  function sy(p) { return view.oy + Y[p] * view.scale; }

  function segment(a, b) {
    if (a < 0 || b < 0) return;
    ctx.moveTo(sx(a), sy(a));
    ctx.lineTo(sx(b), sy(b));
  }

  function render() {
    if (current < 0) { if (live) live.idle(); return; }
    fitCanvas();
    var q = Q(), o = order(), ratio = view.ratio;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    // The overlay.
    ctx.strokeStyle = N > 2000 ? "rgba(150,160,175,0.35)" : "#c9d1dc";
    ctx.lineWidth = (N > 2000 ? 0.5 : 1.2) * ratio;
    ctx.beginPath();
    for (var i = 0; i < LINKS.length; i++) segment(LINKS[i][0], LINKS[i][1]);
    ctx.stroke();
    // Traffic so far, then this step's, brighter.
    var sends = [], dups = [], hitsRouted = [], nowSends = [], nowDups = [], nowHits = [], nowRe = [];
    var hopOf = new Map(), answered = new Map();
    for (var k = 0; k < pos; k++) {
      var r = o[k].r, fresh = k >= prevPos;
      switch (r[0]) {
        case SEND: (fresh ? nowSends : sends).push(r); break;
        case DUP: (fresh ? nowDups : dups).push(r); break;
        case REFORWARD: if (fresh) nowRe.push(r); break;
        case HIT_ROUTED: (fresh ? nowHits : hitsRouted).push(r); break;
        case FIRST:
          if (r[3] !== q.origin && (!hopOf.has(r[3]) || r[5] < hopOf.get(r[3]))) hopOf.set(r[3], r[5]);
          break;
        case ANSWERED:
          answered.set(r[3], (answered.get(r[3]) || 0) | (r[5] ? 2 : 1));
          break;
      }
    }
    function strokeRows(rows, colour, width, dash, from, to) {
      if (!rows.length) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = width * ratio;
      ctx.setLineDash(dash.map(function (d) { return d * ratio; }));
      ctx.beginPath();
      rows.forEach(function (r) { segment(r[from], r[to]); });
      ctx.stroke();
      ctx.setLineDash([]);
    }
    var thin = N > 2000 ? 0.6 : 1;
    strokeRows(sends, "rgba(66,146,198,0.55)", 2 * thin, [], 3, 4);
    strokeRows(dups, "rgba(215,48,31,0.35)", 1.5 * thin, [4, 4], 4, 3);
    strokeRows(hitsRouted, "rgba(35,139,69,0.6)", 2 * thin, [], 3, 4);
    strokeRows(nowSends, "#0b61a4", 4 * thin, [], 3, 4);
    strokeRows(nowRe, "#e08214", 4 * thin, [], 4, 3);
    strokeRows(nowDups, "#d7301f", 3 * thin, [6, 4], 4, 3);
    strokeRows(nowHits, "#238b45", 5 * thin, [], 3, 4);
    // Peers.
    var rad = view.r;
    for (var p = 0; p < N; p++) {
      var reached = hopOf.has(p);
      ctx.beginPath();
      ctx.arc(sx(p), sy(p), rad, 0, 2 * Math.PI);
      ctx.fillStyle = reached ? hopColour(hopOf.get(p)) : (p === q.origin ? "#1d2430" : "#ffffff");
      ctx.fill();
      if (rad >= 3) {
        ctx.lineWidth = 1 * ratio;
        ctx.strokeStyle = "#5b6675";
        ctx.stroke();
      }
    }
    drawDown(rad, ratio);
    answered.forEach(function (how, p) {
      var s = rad + 4 * ratio;
      ctx.lineWidth = 3 * ratio;
      ctx.strokeStyle = how & 1 ? "#f2b705" : "#8e44ad";
      ctx.strokeRect(sx(p) - s, sy(p) - s, 2 * s, 2 * s);
    });
    // The selected hit's way back, above the peers so it shows in a crowd.
    if (selectedHit >= 0 && q.hits[selectedHit]) {
      var path = hitPath(q.hits[selectedHit]);
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.beginPath();
      for (var j = 1; j < path.length; j++) segment(path[j - 1], path[j]);
      ctx.strokeStyle = "#1d2430";
      ctx.lineWidth = 9 * ratio;
      ctx.stroke();
      ctx.strokeStyle = "#f2b705";
      ctx.lineWidth = 6 * ratio;
      ctx.stroke();
      ctx.lineCap = "butt";
      ctx.lineJoin = "miter";
      path.forEach(function (p) {
        ctx.beginPath();
        ctx.arc(sx(p), sy(p), Math.max(rad, 3 * ratio) + 1 * ratio, 0, 2 * Math.PI);
        ctx.fillStyle = "#f2b705";
        ctx.fill();
        ctx.strokeStyle = "#1d2430";
        ctx.lineWidth = 1.5 * ratio;
        ctx.stroke();
      });
    }
    if (q.origin >= 0) {
      ctx.beginPath();
      ctx.arc(sx(q.origin), sy(q.origin), rad + 6 * ratio, 0, 2 * Math.PI);
      ctx.lineWidth = 3 * ratio;
      ctx.strokeStyle = "#1d2430";
      ctx.stroke();
    }
    if (N <= 80) {
      ctx.font = (12 * ratio) + "px system-ui, sans-serif";
      ctx.fillStyle = "#1d2430";
      ctx.textBaseline = "middle";
      for (var m = 0; m < N; m++) ctx.fillText(ids[m], sx(m) + rad + 5 * ratio, sy(m) - rad - 3 * ratio);
    }
    drawCaption(q, ratio);
    updatePanel(q);
  }

  function drawCaption(q, ratio) {
    var t = totals();
    ctx.fillStyle = "#1d2430";
    ctx.textBaseline = "top";
    ctx.font = "600 " + (15 * ratio) + "px system-ui, sans-serif";
    var title = "\u201c" + q.words + "\u201d from " + (q.origin >= 0 ? ids[q.origin] : "?") +
      (q.ttl !== null ? ", TTL " + q.ttl : "") + "  \u00b7  hop " + hop + " of " + q.maxHop;
    ctx.fillText(title, 12 * ratio, 8 * ratio);
    ctx.font = (12 * ratio) + "px system-ui, sans-serif";
    ctx.fillText(t.messages + " messages, " + t.duplicates + " duplicates, " + t.peers_reached +
      " peers reached, " + t.hits + " hits", 12 * ratio, 28 * ratio);
    // Legend: hop colours, then marks.
    var x = 12 * ratio, y = 46 * ratio, box = 11 * ratio;
    ctx.font = (11 * ratio) + "px system-ui, sans-serif";
    for (var h = 1; h <= Math.min(q.maxHop, PALETTE.length - 1); h++) {
      ctx.fillStyle = hopColour(h);
      ctx.fillRect(x, y, box, box);
      ctx.fillStyle = "#1d2430";
      ctx.fillText(h === PALETTE.length - 1 && q.maxHop > h ? h + "+" : String(h), x + box + 3 * ratio, y);
      x += box + 22 * ratio;
    }
    var marks = [["#0b61a4", "copy sent"], ["#d7301f", "duplicate"], ["#238b45", "hit"], ["#f2b705", "holder / hit path"], ["#8e44ad", "cache answer"]];
    marks.forEach(function (mk) {
      ctx.fillStyle = mk[0];
      ctx.fillRect(x + 4 * ratio, y + 4 * ratio, 14 * ratio, 3 * ratio);
      ctx.fillStyle = "#1d2430";
      ctx.fillText(mk[1], x + 22 * ratio, y);
      x += ctx.measureText(mk[1]).width + 34 * ratio;
    });
  }

  function updatePanel(q) {
    var o = order();
    var slider = document.getElementById("slider");
    if (mode === "hop") {
      slider.max = String(q.maxHop);
      slider.value = String(hop);
    } else {
      slider.max = String(Math.ceil(q.duration));
      slider.value = String(Math.round(pos > 0 ? o[pos - 1].t : 0));
    }
    var at = pos > 0 ? o[pos - 1].t : 0;
    document.getElementById("position").textContent = "hop " + hop + " of " + q.maxHop + " \u00b7 " +
      at.toFixed(1) + " ms of " + q.duration.toFixed(1) + " \u00b7 event " + pos + " of " + o.length;
    document.getElementById("querymeta").textContent = (q.strategy ? q.strategy + ", " : "") +
      (q.ttl !== null ? "TTL " + q.ttl + ", " : "") + "GUID " + q.guid;
    // The table: rows up to the current hop in full, the rest greyed.
    var tbody = document.querySelector("#hops tbody");
    var html = "";
    var sum = { newPeers: 0, messages: 0, duplicates: 0, hits: 0 };
    q.table.forEach(function (row) {
      if (row.hop === 0) return;
      var cls = row.hop === hop ? "current" : row.hop > hop ? "future" : "";
      html += "<tr class=\"" + cls + "\"><td>" + row.hop + "</td><td>" + row.newPeers + "</td><td>" +
        row.messages + "</td><td>" + row.duplicates + "</td><td>" + row.hits + "</td></tr>";
      sum.newPeers += row.newPeers; sum.messages += row.messages; sum.duplicates += row.duplicates; sum.hits += row.hits;
    });
    tbody.innerHTML = html;
    document.querySelector("#hops tfoot").innerHTML = "<tr><td>total</td><td>" + sum.newPeers + "</td><td>" +
      sum.messages + "</td><td>" + sum.duplicates + "</td><td>" + sum.hits + "</td></tr>";
    var rec = q.record, recDiv = document.getElementById("record");
    if (rec) {
      var same = rec.messages === sum.messages && rec.duplicates === sum.duplicates &&
        rec.peers_reached === sum.newPeers && rec.hits === sum.hits;
      recDiv.innerHTML = "record: " + rec.messages + " messages, " + rec.duplicates + " duplicates, " +
        rec.peers_reached + " peers reached, " + rec.hits + " hits " +
        (same ? "<span class=\"ok\">= table</span>" : "<span class=\"bad\">\u2260 table</span>");
    } else {
      recDiv.textContent = "no record for this query in the trace";
    }
    var list = document.getElementById("hits");
    var items = "";
    q.hits.forEach(function (h, i) {
      var cls = (i === selectedHit ? "selected " : "") + (h.hop > hop && mode === "hop" ? "future" : "");
      var who = h.responder >= 0 ? ids[h.responder] : "?";
      items += "<li data-hit=\"" + i + "\" class=\"" + cls + "\">" + escapeHtml(who) + " \u00b7 " + h.hops +
        " hop" + (h.hops === 1 ? "" : "s") + " \u00b7 " + h.records + " result" + (h.records === 1 ? "" : "s") +
        (h.cached !== null ? " (from a cache)" : "") + " \u00b7 " + h.t.toFixed(1) + " ms</li>";
    });
    list.innerHTML = items || "<li class=\"future\">none</li>";
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" }[c];
    });
  }


  // ----- the live page (launch --ui, assets/view_live.js, only in a live page) ------------

  var LIVE = !!DATA.live;
  var down = new Set();         // peers stopped now (drawn greyed, crossed)
  var live = null;              // the live part's hooks: {idle(), start(), pick(peer)}

  function drawDown(rad, ratio) {
    if (!down.size) return;
    ctx.lineWidth = 2 * ratio;
    down.forEach(function (p) {
      var x = sx(p), y = sy(p), r = Math.max(rad, 4 * ratio);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = "#c3c8cf";
      ctx.fill();
      ctx.strokeStyle = "#b42318";
      ctx.beginPath();
      ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
      ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r);
      ctx.stroke();
    });
  }

/*{{LIVE}}*/
  // ----- wiring ---------------------------------------------------------------------------

  function fillQueries() {
    var sel = document.getElementById("query");
    var html = "";
    queries.forEach(function (q, i) {
      if (q.dirty) build(q);
      var label = "\u201c" + q.words + "\u201d from " + (q.origin >= 0 ? ids[q.origin] : "?") + " \u00b7 " + q.guid.slice(0, 8);
      html += "<option value=\"" + i + "\">" + escapeHtml(label) + "</option>";
    });
    sel.innerHTML = html;
    if (current >= 0) sel.value = String(current);
  }

  function addRows(rows) {
    var touched = false;
    rows.forEach(function (r) {
      var q = queries[r[2]];
      if (!q) return;
      q.rows.push(r);
      q.dirty = true;
      if (r[2] === current) touched = true;
    });
    fillQueries();
    if (touched) { var keep = pos; build(queries[current]); moveTo(keep); }
    if (current < 0 && queries.length) select(0);
  }

  document.getElementById("query").addEventListener("change", function (e) { select(Number(e.target.value)); });
  document.getElementById("reset").addEventListener("click", reset);
  document.getElementById("play").addEventListener("click", play);
  document.getElementById("pause").addEventListener("click", pause);
  document.getElementById("stepHop").addEventListener("click", function () { pause(); if (mode !== "hop") setMode("hop"); step(); });
  document.getElementById("stepEvent").addEventListener("click", function () { pause(); stepEvent(); });
  document.getElementById("mode").addEventListener("change", function (e) { setMode(e.target.value); });
  document.getElementById("speed").addEventListener("change", function () { if (timer !== null) { pause(); play(); } });
  document.getElementById("slider").addEventListener("input", function (e) {
    pause();
    var v = Number(e.target.value);
    if (mode === "hop") moveTo(endOfHop(v), v); else moveTo(endOfTime(v));
  });
  document.getElementById("hits").addEventListener("click", function (e) {
    var li = e.target.closest("li[data-hit]");
    if (li) clickHit(Number(li.getAttribute("data-hit")));
  });
  document.getElementById("png").addEventListener("click", function () {
    var a = document.createElement("a");
    a.href = canvas.toDataURL("image/png");
    a.download = "flood-" + Q().guid.slice(0, 8) + "-hop" + hop + ".png";
    document.body.appendChild(a);
    a.click();
    a.remove();
  });

  function peerAt(ev) {
    var rect = canvas.getBoundingClientRect(), ratio = view.ratio || 1;
    var x = (ev.clientX - rect.left) * ratio, y = (ev.clientY - rect.top) * ratio;
    var best = -1, bestD = Math.pow(view.r + 6 * ratio, 2);
    for (var p = 0; p < N; p++) {
      var d = Math.pow(sx(p) - x, 2) + Math.pow(sy(p) - y, 2);
      if (d <= bestD) { bestD = d; best = p; }
    }
    return best;
  }
  canvas.addEventListener("click", function (ev) {
    var p = peerAt(ev);
    if (p >= 0 && live) live.pick(p);
    if (current < 0) return;
    var q = Q();
    if (p < 0) return;
    for (var i = 0; i < q.hits.length; i++) if (q.hits[i].responder === p) { clickHit(i); return; }
  });
  canvas.addEventListener("mousemove", function (ev) {
    var p = peerAt(ev), tip = document.getElementById("tip"), q = Q();
    if (p < 0 || !q) { tip.hidden = true; return; }
    var lines = [ids[p] + (p === q.origin ? " (origin)" : "") + (down.has(p) ? " (down)" : "")];
    if (q.firstHop.has(p)) lines.push("reached at hop " + q.firstHop.get(p) + " from " + (q.parent.get(p) >= 0 ? ids[q.parent.get(p)] : "?"));
    else if (p !== q.origin) lines.push("not reached");
    var st = peerStats(p);
    lines.push("so far: " + st.copies_in + " copies in (" + st.duplicates + " duplicates), " +
      st.copies_out + " out");
    if (st.answered + st.answered_from_cache + st.hits_sent + st.hits_relayed > 0) {
      lines.push("answered " + st.answered + (st.answered_from_cache ? " (+" + st.answered_from_cache + " from cache)" : "") +
        ", hits sent " + st.hits_sent + ", relayed " + st.hits_relayed);
    }
    tip.textContent = lines.join("\n");
    var rect = canvas.getBoundingClientRect();
    tip.style.left = (ev.clientX - rect.left + 12) + "px";
    tip.style.top = (ev.clientY - rect.top + 12) + "px";
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", function () { document.getElementById("tip").hidden = true; });
  window.addEventListener("resize", render);

  function setMode(m) {
    if (m !== "hop" && m !== "time") return false;
    pause();
    mode = m;
    document.getElementById("mode").value = m;
    reset();
    return true;
  }

  function subtitle() {
    document.getElementById("subtitle").textContent = (LIVE ? "running network" : DATA.world === "live" ? "live network" : "simulation") +
      " \u00b7 " + N + " peers, " + LINKS.length + " links \u00b7 " + queries.length + " " + (LIVE ? "" : "traced ") +
      (queries.length === 1 ? "query" : "queries");
  }
  subtitle();
  document.getElementById("note").textContent = DATA.note || "";

  // Every row of the trace, as a live page would push them.
  var initial = DATA.rows;
  DATA.rows = [];
  addRows(initial);

  window.gnutellaView = {
    get peers() { return N; },
    get links() { return LINKS.length; },
    get queries() { return queries.map(function (q) { return q.guid; }); },
    get selected() { return current >= 0 ? queries[current].guid : null; },
    select: select,
    step: step,
    stepEvent: stepEvent,
    play: play,
    pause: pause,
    reset: reset,
    setMode: setMode,
    get mode() { return mode; },
    seekMs: function (ms) { if (mode !== "time") setMode("time"); moveTo(endOfTime(ms)); },
    get hop() { return hop; },
    get maxHop() { return Q().maxHop; },
    get playing() { return timer !== null; },
    get atEnd() { return pos >= order().length; },
    get totals() { return totals(); },
    get record() { var r = Q().record; return r ? { messages: r.messages, duplicates: r.duplicates, peers_reached: r.peers_reached, hits: r.hits } : null; },
    get table() { return Q().table.map(function (r) { return { hop: r.hop, new_peers: r.newPeers, messages: r.messages, duplicates: r.duplicates, hits: r.hits }; }); },
    get hits() { return Q().hits.map(function (h) { return { responder: h.responder >= 0 ? ids[h.responder] : null, hops: h.hops, records: h.records }; }); },
    clickHit: clickHit,
    peerStats: function (id) { var p = ids.indexOf(String(id)); return p >= 0 ? peerStats(p) : null; },
    get hitPath() { var q = Q(); return selectedHit >= 0 ? hitPath(q.hits[selectedHit]).map(function (p) { return ids[p]; }) : []; },
    addQuery: function (guid) { var i = addQuery(guid); fillQueries(); return i; },
    addRows: addRows,
    png: function () { return canvas.toDataURL("image/png"); }
  };
  if (live) live.start();
})();
