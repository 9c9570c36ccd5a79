// Live updates for the monitor, without reloading the page: the runs list re-renders its active rows and
// adds new runs matching its filters; a rerun group expands in place; a run's page refreshes its live part.
// Every row comes from the server's own fragment (monitor/_run_row.html), as the page renders it.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var NEW_MS = 5000;

  function back() { return window.location.pathname + window.location.search; }

  function fetchRows(url, params) {
    var query = new URLSearchParams(params);
    query.set("next", back());
    return fetch(url + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.text(); })
      .then(function (html) {
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        var rows = Array.prototype.slice.call(fresh.content.querySelectorAll("tr[data-run-id]"));
        rows.forEach(function (row) { if (window.ctportalTimes) window.ctportalTimes.apply(row); });
        return rows;
      });
  }

  function pollActive(table, url) {
    var rows = Array.prototype.filter.call(table.querySelectorAll("tr[data-run-id]"), function (row) {
      return row.dataset.active === "1";
    });
    if (!rows.length) { setTimeout(function () { pollActive(table, url); }, POLL_MS * 2); return; }
    var ids = rows.map(function (row) { return row.dataset.runId; }).join(",");
    fetchRows(url, { ids: ids })
      .then(function (fresh) {
        fresh.forEach(function (row) {
          var old = table.querySelector('tr[data-run-id="' + row.dataset.runId + '"]');
          if (old) { if (old.classList.contains("in-group")) row.classList.add("in-group"); old.replaceWith(row); }
        });
      })
      .catch(function () {})
      .finally(function () { setTimeout(function () { pollActive(table, url); }, POLL_MS); });
  }

  // New runs matching the list's filters, added on top (first page, newest first only).
  function pollNew(table, url) {
    // The newest trigger time listed (ISO text, all in UTC: it sorts as text, microseconds included).
    var since = Array.prototype.reduce.call(table.querySelectorAll("tbody tr[data-triggered]"), function (max, row) {
      return row.dataset.triggered > max ? row.dataset.triggered : max;
    }, "") || new Date(Date.now() - 60000).toISOString();
    var params = Object.fromEntries(new URLSearchParams(window.location.search));
    delete params.page;
    params.since = since;
    fetchRows(url, params)
      .then(function (fresh) {
        var body = table.tBodies[0];
        var empty = body.querySelector("tr:not([data-run-id])");
        if (fresh.length && empty) empty.remove();
        fresh.reverse().forEach(function (row) {
          if (table.querySelector('tr[data-run-id="' + row.dataset.runId + '"]')) return;
          // A rerun replaces its group's earlier latest attempt in the list.
          body.querySelectorAll('tr[data-group="' + row.dataset.group + '"]:not(.in-group)').forEach(function (old) {
            old.remove();
          });
          row.classList.add("new-run");
          body.insertBefore(row, body.firstChild);
        });
      })
      .catch(function () {})
      .finally(function () { setTimeout(function () { pollNew(table, url); }, NEW_MS); });
  }

  function toggleGroup(button, table, url) {
    var row = button.closest("tr");
    var open = button.getAttribute("aria-expanded") === "true";
    var group = row.dataset.group;
    table.querySelectorAll('tr.in-group[data-group="' + group + '"]').forEach(function (r) { r.remove(); });
    button.setAttribute("aria-expanded", String(!open));
    if (open) return;
    fetchRows(url, { group: group }).then(function (fresh) {
      fresh.reverse().forEach(function (r) { r.classList.add("in-group"); row.after(r); });
    });
  }

  function copyText(text, button) {
    var done = function () { button.classList.add("copied"); button.title = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done); return; }
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  }

  function pollRun(live) {
    fetch(live.dataset.liveUrl, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var opened = Array.prototype.map.call(live.querySelectorAll("details[open] > summary"), function (s) {
          return s.textContent;
        });
        live.innerHTML = html;
        live.querySelectorAll("details > summary").forEach(function (s) {
          if (opened.indexOf(s.textContent) >= 0) s.parentElement.open = true;
        });
        if (window.ctportalTimes) window.ctportalTimes.apply(live);
        var marker = live.querySelector(".run-active");
        if (marker && marker.dataset.runActive === "1") setTimeout(function () { pollRun(live); }, POLL_MS);
      })
      .catch(function () { setTimeout(function () { pollRun(live); }, POLL_MS * 2); });
  }

  var script = document.currentScript;
  var table = document.getElementById("runs");
  if (table && script && script.dataset.rowsUrl) {
    var url = script.dataset.rowsUrl;
    pollActive(table, url);
    if (table.dataset.liveNew === "1") setTimeout(function () { pollNew(table, url); }, NEW_MS);
    table.addEventListener("click", function (event) {
      var reruns = event.target.closest("button.reruns");
      if (reruns) { toggleGroup(reruns, table, url); return; }
      var copy = event.target.closest("button.copy-id");
      if (copy) copyText(copy.dataset.copy, copy);
    });
  }
  var live = document.getElementById("live");
  if (live && live.dataset.poll === "1") setTimeout(function () { pollRun(live); }, POLL_MS);
})();
