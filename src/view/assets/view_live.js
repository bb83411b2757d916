  // ----- the live page (launch --ui): peers polled, rows pushed, search, kill, revive -------
  // Spliced into view.js (inside its closure) only when the launcher serves the page, so a
  // page made by `gnutella view` holds no code that talks to a server.

  var statuses = [];            // the last GET /peers
  var counters = ids.map(function () { return { queries: 0, copiesIn: 0, dups: 0, out: 0, answers: 0, cacheAnswers: 0 }; });
  var follow = true;            // show each new query as it comes, at its latest step
  var idIndex = new Map(ids.map(function (id, i) { return [id, i]; }));
  var pollTimer = null, polling = false, eventsOpen = false, lastError = "";
  var picked = null;            // the peer whose statistics are shown (its config id)
  var TYPES = ["ping", "pong", "query", "query_hit", "push", "bye", "route_table", "other"];

  // The overlay alone, before the first search.
  function renderIdle() {
    fitCanvas();
    var ratio = view.ratio;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = N > 2000 ? "rgba(150,160,175,0.35)" : "#c9d1dc";
    ctx.lineWidth = (N > 2000 ? 0.5 : 1.2) * ratio;
    ctx.beginPath();
    for (var i = 0; i < LINKS.length; i++) segment(LINKS[i][0], LINKS[i][1]);
    ctx.stroke();
    var rad = view.r;
    for (var p = 0; p < N; p++) {
      ctx.beginPath();
      ctx.arc(sx(p), sy(p), rad, 0, 2 * Math.PI);
      ctx.fillStyle = "#ffffff";
      ctx.fill();
      ctx.lineWidth = 1 * ratio;
      ctx.strokeStyle = "#5b6675";
      ctx.stroke();
    }
    drawDown(rad, ratio);
    if (N <= 80) {
      ctx.font = (12 * ratio) + "px system-ui, sans-serif";
      ctx.fillStyle = "#1d2430";
      ctx.textBaseline = "middle";
      for (var m = 0; m < N; m++) ctx.fillText(ids[m], sx(m) + rad + 5 * ratio, sy(m) - rad - 3 * ratio);
    }
    ctx.fillStyle = "#1d2430";
    ctx.textBaseline = "top";
    ctx.font = "600 " + (15 * ratio) + "px system-ui, sans-serif";
    ctx.fillText("Live: " + (N - down.size) + " of " + N + " peers up, " + LINKS.length +
      " links \u00b7 search from the form to see a flood", 12 * ratio, 8 * ratio);
  }

  // Per-peer counters over every query the page has seen.
  function count(r) {
    var c = counters[r[3]];
    if (!c) return;
    switch (r[0]) {
      case SEND: c.out++; break;
      case FIRST: c.queries++; c.copiesIn++; break;
      case DUP: c.copiesIn++; c.dups++; break;
      case REFORWARD: c.copiesIn++; break;
      case ANSWERED: if (r[5]) c.cacheAnswers++; else c.answers++; break;
    }
  }

  function api(method, path, body) {
    var init = { method: method, headers: {} };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(path, init).then(function (res) {
      return res.json().then(function (v) {
        if (!res.ok) throw new Error(v && v.error ? v.error : "HTTP " + res.status);
        return v;
      });
    });
  }

  function applyStatuses(list) {
    statuses = list;
    down = new Set();
    var links = [], seen = new Set();
    list.forEach(function (st) {
      var a = idIndex.get(st.id);
      if (a === undefined) return;
      if (!st.up) down.add(a);
      st.neighbours.forEach(function (n) {
        var b = idIndex.get(n);
        if (b === undefined) return;
        var key = Math.min(a, b) + "-" + Math.max(a, b);
        if (!seen.has(key)) { seen.add(key); links.push([Math.min(a, b), Math.max(a, b)]); }
      });
    });
    LINKS = links;
    subtitle();
    fillPeerTable();
    fillFrom();
    showPeerStats();
  }

  // The picked peer's statistics, as GET /peers gave them (the --peer-stats row): over
  // every query and every run of the peer, whatever started them.
  function showPeerStats() {
    var box = document.getElementById("peerStats");
    var st = picked === null ? null : statuses.find(function (s) { return s.id === picked; });
    if (!st) { box.hidden = true; return; }
    var s = st.stats;
    var html = "<h3>" + escapeHtml(st.id) + (st.up ? "" : " (down)") + "</h3>";
    if (!s) {
      html += "<p>no statistics from this peer's process</p>";
    } else {
      html += "<table><thead><tr><th>messages</th><th>in</th><th>out</th></tr></thead><tbody>";
      TYPES.forEach(function (t) {
        var a = s.messages_in[t] || 0, b = s.messages_out[t] || 0;
        if (a || b || t === "query" || t === "query_hit") {
          html += "<tr data-type=\"" + t + "\"><td>" + t.replace("_", " ") + "</td><td>" + a + "</td><td>" + b + "</td></tr>";
        }
      });
      html += "</tbody></table><p>duplicates received " + s.duplicates + " \u00b7 answered " + s.answered +
        " (+" + s.answered_from_cache + " from cache) \u00b7 drops " + s.drops + " \u00b7 bytes served " +
        (s.bytes_served === null || s.bytes_served === undefined ? "\u2013" : s.bytes_served) + "</p>";
    }
    box.innerHTML = html;
    box.hidden = false;
  }

  function pick(id) {
    picked = id === null || id === undefined ? null : String(id);
    fillPeerTable();
    showPeerStats();
  }

  function poll() {
    if (polling) return;
    polling = true;
    api("GET", "/peers").then(function (list) {
      lastError = "";
      applyStatuses(list);
      render();
    }).catch(function (e) { lastError = String(e.message || e); }).then(function () {
      polling = false;
      showState();
      clearTimeout(pollTimer);
      pollTimer = setTimeout(poll, 1000);
    });
  }

  function showState() {
    var up = statuses.filter(function (s) { return s.up; }).length;
    document.getElementById("livestate").textContent = (statuses.length ? up + " of " + statuses.length + " peers up, " + LINKS.length + " links" : "") +
      (eventsOpen ? " \u00b7 floods live" : " \u00b7 no flood feed") + (lastError ? " \u00b7 " + lastError : "");
  }

  function fillFrom() {
    var sel = document.getElementById("searchFrom"), keep = sel.value;
    var html = "";
    statuses.forEach(function (st) {
      if (st.up) html += "<option>" + escapeHtml(st.id) + "</option>";
    });
    if (sel.innerHTML !== html) { sel.innerHTML = html; if (keep) sel.value = keep; if (!sel.value && sel.options.length) sel.selectedIndex = 0; }
  }

  function fillPeerTable() {
    var html = "";
    statuses.forEach(function (st) {
      var p = idIndex.get(st.id), c = p !== undefined ? counters[p] : null;
      html += "<tr data-peer=\"" + escapeHtml(st.id) + "\" class=\"" + (st.up ? "up" : "down") + (st.id === picked ? " picked" : "") + "\"><td>" + escapeHtml(st.id) + "</td><td>" +
        (st.up ? st.degree : "down") + "</td><td>" + (c ? c.queries : "") + "</td><td>" +
        (c ? c.copiesIn + " (" + c.dups + ")" : "") + "</td><td>" + (c ? c.out : "") + "</td><td>" +
        (c ? c.answers + (c.cacheAnswers ? " (+" + c.cacheAnswers + ")" : "") : "") + "</td><td>" +
        "<button data-act=\"" + (st.up ? "kill" : "revive") + "\" data-peer=\"" + escapeHtml(st.id) + "\">" +
        (st.up ? "Kill" : "Revive") + "</button></td></tr>";
    });
    document.querySelector("#peerTable tbody").innerHTML = html;
  }

  function liveSearch(from, words, ttl) {
    var out = document.getElementById("searchResult");
    out.className = "";
    out.textContent = "searching \u201c" + words + "\u201d from " + from + "\u2026";
    follow = true;
    var body = { from: from, words: words };
    if (ttl) body.ttl = Number(ttl);
    return api("POST", "/search", body).then(function (rec) {
      var i = addQuery(rec.guid);
      queries[i].record = rec;
      out.textContent = "\u201c" + words + "\u201d from " + from + ": " + rec.hits + " hit" + (rec.hits === 1 ? "" : "s") + ", " +
        rec.messages + " messages, " + rec.duplicates + " duplicates, " + rec.peers_reached + " peers reached";
      fillQueries();
      if (current !== i) select(i);
      moveTo(order().length);
      return rec;
    }).catch(function (e) {
      out.className = "bad";
      out.textContent = "search refused: " + (e.message || e);
      throw e;
    });
  }

  function peerAction(act, id) {
    return api("POST", "/peers/" + encodeURIComponent(id) + "/" + act).then(function (v) {
      lastError = "";
      poll();
      return v;
    }).catch(function (e) { lastError = act + " " + id + ": " + (e.message || e); showState(); throw e; });
  }

  function onFeed(msg) {
    var before = queries.length;
    msg.queries.forEach(function (g) { addQuery(g); });
    msg.servents.forEach(function (s) { DATA.servents.push(s); });
    msg.records.forEach(function (qr) { if (queries[qr[0]]) queries[qr[0]].record = qr[1]; });
    msg.rows.forEach(count);
    var atEnd = current >= 0 && pos >= order().length;
    addRows(msg.rows);
    if (follow && queries.length > before) select(queries.length - 1);
    if (follow && current >= 0 && (atEnd || queries.length > before)) moveTo(order().length);
    fillPeerTable();
    subtitle();
  }

  function startLive() {
    document.getElementById("live").hidden = false;
    document.getElementById("searchForm").addEventListener("submit", function (e) {
      e.preventDefault();
      liveSearch(document.getElementById("searchFrom").value, document.getElementById("searchWords").value,
        document.getElementById("searchTtl").value).catch(function () {});
    });
    document.getElementById("peerTable").addEventListener("click", function (e) {
      var b = e.target.closest("button[data-act]");
      if (b) { peerAction(b.getAttribute("data-act"), b.getAttribute("data-peer")).catch(function () {}); return; }
      var row = e.target.closest("tr[data-peer]");
      if (row) pick(row.getAttribute("data-peer"));
    });
    if (window.EventSource) {
      var source = new EventSource("/events");
      source.onopen = function () { eventsOpen = true; showState(); };
      source.onerror = function () { eventsOpen = false; showState(); };
      source.onmessage = function (e) { onFeed(JSON.parse(e.data)); };
    }
    // The live page (launch --ui): what GET /peers said last, the peers drawn down, the
    // per-peer counters over every query seen; search, kill, revive as the form and the
    // buttons do (each returns a promise).
    Object.defineProperties(window.gnutellaView, {
      live: { get: function () { return true; } },
      down: { get: function () { return Array.from(down).map(function (p) { return ids[p]; }).sort(); } },
      statuses: { get: function () { return statuses; } }
    });
    // The picked peer (clicked on the graph or in the table) and its statistics.
    window.gnutellaView.pick = function (id) { pick(id); poll(); };
    Object.defineProperty(window.gnutellaView, "picked", { get: function () { return picked; } });
    window.gnutellaView.peerTotals = function (id) {
      var st = statuses.find(function (s) { return s.id === String(id); });
      return st && st.stats ? JSON.parse(JSON.stringify(st.stats)) : null;
    };
    window.gnutellaView.counters = function (id) { var p = idIndex.get(String(id)); return p !== undefined ? Object.assign({}, counters[p]) : null; };
    window.gnutellaView.search = liveSearch;
    window.gnutellaView.kill = function (id) { return peerAction("kill", id); };
    window.gnutellaView.revive = function (id) { return peerAction("revive", id); };
    window.gnutellaView.poll = poll;
    poll();
  }

  live = { idle: renderIdle, start: startLive, pick: function (p) { pick(ids[p]); } };

