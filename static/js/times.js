// Times in UTC (as the server renders them, labelled "UTC") or in the browser's zone, always labelled.
// The choice is kept in localStorage; ctportalTimes.apply(root) converts times added later (live rows).
(function () {
  "use strict";
  var KEY = "ctportal.timeZone";
  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "local";

  function choice() {
    try { return window.localStorage.getItem(KEY) === "local" ? "local" : "utc"; } catch (e) { return "utc"; }
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function format(date, local) {
    var get = local
      ? [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()]
      : [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
    return get[0] + "-" + pad(get[1]) + "-" + pad(get[2]) + " " + pad(get[3]) + ":" + pad(get[4]) + ":" + pad(get[5]);
  }

  function apply(root) {
    var local = choice() === "local";
    var label = local ? zone : "UTC";
    (root || document).querySelectorAll("time[data-utc]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      el.textContent = format(date, local) + (el.hasAttribute("data-bare") ? "" : " " + label);
      el.title = local ? format(date, false) + " UTC" : format(date, true) + " " + zone;
    });
    document.querySelectorAll("[data-tz-label]").forEach(function (el) { el.textContent = label; });
    document.querySelectorAll("button[data-tz]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.tz === choice()));
      if (button.dataset.tz === "local") button.textContent = "Browser zone (" + zone + ")";
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-tz]");
    if (!button) return;
    try { window.localStorage.setItem(KEY, button.dataset.tz); } catch (e) { /* private mode: this page only */ }
    apply(document);
  });

  window.ctportalTimes = { apply: apply };
  apply(document);
})();
