// Palm console: live updates (server-sent events), the composer's audience and preview.
// No inline script anywhere (the CSP forbids it); every HTML fragment inserted here was
// rendered and escaped by the server; text from JSON is only ever set as textContent.
"use strict";

(function () {
  const csrf = document.body.dataset.csrf || "";

  function throttle(fn, ms) {
    let timer = null, again = false;
    return function () {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(function () { timer = null; if (again) { again = false; fn(); } }, ms);
    };
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // --- live pages -----------------------------------------------------------
  const live = document.getElementById("live");
  if (live && window.EventSource) {
    const topic = live.dataset.stream;
    let url = "/console/events?topic=" + encodeURIComponent(topic);
    if (live.dataset.from) url += "&from=" + encodeURIComponent(live.dataset.from);
    const source = new EventSource(url);
    const liveText = document.getElementById("live-text").textContent;
    const offText = document.getElementById("offline-text").textContent;
    source.onopen = function () { live.textContent = liveText; live.classList.remove("off"); };
    source.onerror = function () { live.textContent = offText; live.classList.add("off"); };

    const refreshUrl = live.dataset.refresh;
    const target = document.getElementById("refresh-target");
    if (refreshUrl && target) {
      const refresh = throttle(function () {
        fetch(refreshUrl, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html !== null) target.innerHTML = html; });
      }, 300);
      source.addEventListener("refresh", refresh);
    }

    const table = document.getElementById("queue");
    if (table) source.addEventListener("ticket", function (e) { placeRow(table, JSON.parse(e.data)); });
    // Messages that became no ticket: the list below the queue, fetched again when one
    // is parked, retried or marked handled (here or anywhere else).
    const parked = document.getElementById("parked-slot");
    if (parked) {
      source.addEventListener("parked", throttle(function () {
        fetch(parked.dataset.refresh, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html !== null) parked.innerHTML = html; });
      }, 300));
    }
  }

  function wanted(table, row) {
    const status = table.dataset.status, kind = table.dataset.kind;
    const statusOk = status === "all" || status === row.status ||
      (status === "open" && (row.status === "new" || row.status === "claimed"));
    return statusOk && (!kind || kind === row.kind);
  }

  function rowKey(tr) {
    return [Number(tr.dataset.rank), Number(tr.dataset.received), tr.id];
  }

  function before(a, b) {
    for (let i = 0; i < a.length; i++) { if (a[i] !== b[i]) return a[i] < b[i]; }
    return false;
  }

  function placeRow(table, row) {
    const body = table.tBodies[0];
    const old = document.getElementById("row-" + row.id);
    if (old) old.remove();
    if (wanted(table, row)) {
      const tpl = document.createElement("template");
      tpl.innerHTML = row.html.trim();
      const tr = tpl.content.firstElementChild;
      const key = rowKey(tr);
      let next = null;
      for (const other of body.rows) { if (before(key, rowKey(other))) { next = other; break; } }
      body.insertBefore(tr, next);
      tr.classList.add("fresh");
    }
    const empty = document.getElementById("empty");
    if (empty) empty.classList.toggle("hidden", body.rows.length > 0);
  }

  // Ages ("5m", "5分钟") in the queue stay true while the page stays open; the units
  // are the page's language, as gateway/console/views.py writes them.
  const zh = document.documentElement.lang.startsWith("zh");
  const UNITS = zh ? { s: "秒", m: "分钟", h: "小时", d: "天", sep: "", now: "刚刚", ago: "前" }
                   : { s: "s", m: "m", h: "h", d: "d", sep: " ", now: "just now", ago: " ago" };
  function ago(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const two = function (a, ua, b, ub) { return a + UNITS[ua] + UNITS.sep + b + UNITS[ub]; };
    if (s < 60) return UNITS.now;
    if (s < 3600) return Math.floor(s / 60) + UNITS.m + UNITS.ago;
    if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor(s % 3600 / 60), "m") + UNITS.ago;
    return two(Math.floor(s / 86400), "d", Math.floor(s % 86400 / 3600), "h") + UNITS.ago;
  }
  setInterval(function () {
    document.querySelectorAll("td.when time[datetime]").forEach(function (el) {
      el.textContent = ago(Date.now() / 1000 - Number(el.getAttribute("datetime")));
    });
  }, 15000);

  // --- composer ---------------------------------------------------------------
  const to = document.getElementById("to");
  const matches = document.getElementById("matches");
  if (to && matches) {
    const show = function (data) {
      matches.textContent = "";
      matches.classList.toggle("error", !data.ok);
      if (!data.ok) { matches.textContent = data.error; return; }
      const head = document.createElement("p");
      head.className = "count";
      head.textContent = matches.dataset.label + (zh ? "：" : ": ") + data.count + " " + matches.dataset.chats;
      matches.appendChild(head);
      Object.keys(data.platforms).forEach(function (name) {
        const p = data.platforms[name];
        const h = document.createElement("h4");
        h.textContent = name.charAt(0).toUpperCase() + name.slice(1) + " (" + p.count + ")";
        const ul = document.createElement("ul");
        p.chats.forEach(function (c) {
          const li = document.createElement("li");
          li.textContent = c.title === c.id ? c.id : c.title + " · " + c.id;
          ul.appendChild(li);
        });
        matches.appendChild(h);
        matches.appendChild(ul);
      });
    };
    const check = debounce(function () {
      if (!to.value.trim()) { matches.textContent = ""; return; }
      fetch("/console/announce/audience?to=" + encodeURIComponent(to.value), {
        credentials: "same-origin", headers: { Accept: "application/json" },
      }).then(function (r) { return r.json(); }).then(function (data) {
        // A refused request (e.g. the session expired) answers the console's error body,
        // {error: {code, message}}, already in the page's language: shown like a bad audience.
        if (data.error && typeof data.error === "object") data = { ok: false, error: data.error.message };
        show(data);
      });
    }, 200);
    to.addEventListener("input", check);
    if (to.value) check();
    // One-click audiences: "all" replaces the field; a tag is added to it with "|".
    document.querySelectorAll("button.pick").forEach(function (b) {
      b.addEventListener("click", function () {
        const expr = b.dataset.expr, now = to.value.trim();
        const parts = now.split("|").map(function (p) { return p.trim(); });
        if (b.dataset.replace === "1" || !now) to.value = expr;
        else if (parts.indexOf(expr) < 0) to.value = now + " | " + expr;
        to.dispatchEvent(new Event("input"));
        to.focus();
      });
    });
  }

  const text = document.getElementById("text");
  const title = document.getElementById("title");
  const tg = document.getElementById("preview-telegram");
  const mx = document.getElementById("preview-matrix");
  if (text && tg && mx) {
    const preview = debounce(function () {
      const body = new URLSearchParams({ text: text.value, title: title ? title.value : "" });
      fetch("/console/announce/preview", {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRF-Token": csrf },
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
        if (!p) return;
        tg.innerHTML = p.telegram;  // escaped by the server's Markdown renderer
        mx.innerHTML = p.matrix;
      });
    }, 200);
    text.addEventListener("input", preview);
    if (title) title.addEventListener("input", preview);
  }

  const files = document.getElementById("attachments");
  if (files) {
    files.addEventListener("change", function () {
      const max = Number(files.dataset.maxBytes), err = document.getElementById("att-error");
      const big = Array.prototype.filter.call(files.files, function (f) { return f.size > max; });
      err.textContent = big.map(function (f) { return f.name + " > " + Math.round(max / 1048576) + " MB"; }).join(", ");
      err.classList.toggle("hidden", big.length === 0);
      files.setCustomValidity(big.length ? err.textContent : "");
    });
  }
})();
