// Live updates for the monitor, without reloading the page: the runs list re-renders its active rows,
// a run's page its live part, each from the server's own fragment until the run ends.
(function () {
  "use strict";
  var POLL_MS = 1500;

  // The server renders the rows (monitor/_run_row.html, as the page does); active ones are swapped in place.
  function pollList(table, url) {
    var rows = Array.prototype.filter.call(table.querySelectorAll("tr[data-run-id]"), function (row) {
      return row.dataset.active === "1";
    });
    if (!rows.length) return;
    var ids = rows.map(function (row) { return row.dataset.runId; }).join(",");
    var back = window.location.pathname + window.location.search;
    fetch(url + "?ids=" + encodeURIComponent(ids) + "&next=" + encodeURIComponent(back), { credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.text(); })
      .then(function (html) {
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        fresh.content.querySelectorAll("tr[data-run-id]").forEach(function (row) {
          var old = table.querySelector('tr[data-run-id="' + row.dataset.runId + '"]');
          if (old) old.replaceWith(row);
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
  if (table && script && script.dataset.rowsUrl) pollList(table, script.dataset.rowsUrl);
  var live = document.getElementById("live");
  if (live && live.dataset.poll === "1") setTimeout(function () { pollRun(live); }, POLL_MS);
})();
