// Live updates for the monitor, without reloading the page: the runs list polls the statuses of its
// active rows; a run's page re-renders its live part until the run ends.
(function () {
  "use strict";
  var POLL_MS = 1500;

  function formatDuration(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return ms + " ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    var m = Math.floor(s / 60), rest = Math.floor(s % 60);
    return m + "m " + (rest < 10 ? "0" : "") + rest + "s";
  }

  function pollList(table, url) {
    var rows = Array.prototype.filter.call(table.querySelectorAll("tr[data-run-id]"), function (row) {
      return row.dataset.active === "1";
    });
    if (!rows.length) return;
    var ids = rows.map(function (row) { return row.dataset.runId; }).join(",");
    fetch(url + "?ids=" + encodeURIComponent(ids), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        rows.forEach(function (row) {
          var run = data[row.dataset.runId];
          if (!run) return;
          var badge = row.querySelector(".badge");
          badge.textContent = run.label;
          badge.className = "badge " + run.css;
          badge.dataset.status = run.status;
          badge.title = run.message || "";
          if (!run.active) {
            row.dataset.active = "0";
            row.querySelector(".end").textContent = run.end ? run.end.replace("T", " ").slice(0, 19) : "—";
            row.querySelector(".duration").textContent = formatDuration(run.durationMs);
            row.querySelector(".error").textContent = run.message || "";
            row.dataset.status = run.status;  // CSS now shows Rerun (and Rerun from failed activity)
          }
        });
      })
      .catch(function () {})
      .finally(function () { setTimeout(function () { pollList(table, url); }, POLL_MS); });
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
        var marker = live.querySelector(".run-active");
        if (marker && marker.dataset.runActive === "1") setTimeout(function () { pollRun(live); }, POLL_MS);
      })
      .catch(function () { setTimeout(function () { pollRun(live); }, POLL_MS * 2); });
  }

  var script = document.currentScript;
  var table = document.getElementById("runs");
  if (table && script && script.dataset.statusUrl) pollList(table, script.dataset.statusUrl);
  var live = document.getElementById("live");
  if (live && live.dataset.poll === "1") setTimeout(function () { pollRun(live); }, POLL_MS);
})();
