// The tables grid (templates/tables/_source_grid.html): search, filters, "Select all matching", and a count;
// and the source picker above it.
// Plain JS over the rendered rows: rows are read once, filtering only toggles `hidden` (fast with 2,000).
(function () {
  "use strict";
  // Picking a source lists its tables at once (the List tables button stays for pages without JS).
  const picker = document.getElementById("pick-source");
  if (picker) picker.addEventListener("change", () => { if (picker.value) picker.form.submit(); });
  const grid = document.querySelector("[data-grid]");
  const bar = document.querySelector("[data-grid-filters]");
  if (!grid || !bar) return;
  const rows = Array.from(grid.tBodies[0].rows).filter((r) => r.dataset.name !== undefined).map((row) => ({
    row,
    name: row.dataset.name,
    schema: row.dataset.schema,
    key: row.dataset.key,
    tracked: row.dataset.tracked,
    box: row.querySelector('input[type="checkbox"][name="tables"]'),
  }));
  const value = (name) => {
    const field = bar.querySelector(`[data-filter="${name}"]`);
    return field ? field.value.trim().toLowerCase() : "";
  };
  const count = bar.querySelector("[data-count]");

  function matches(entry, f) {
    return (!f.search || entry.name.includes(f.search)) &&
      (!f.schema || entry.schema.toLowerCase() === f.schema) &&
      (!f.key || entry.key === f.key) &&
      (!f.tracked || entry.tracked === f.tracked);
  }

  function apply() {
    const f = { search: value("search"), schema: value("schema"), key: value("key"), tracked: value("tracked") };
    let shown = 0;
    for (const entry of rows) {
      const visible = matches(entry, f);
      if (entry.row.hidden === visible) entry.row.hidden = !visible;
      if (visible) shown += 1;
    }
    grid.dataset.shown = String(shown);
    tally();
  }

  function tally() {
    const ticked = rows.reduce((n, e) => n + (e.box && e.box.checked ? 1 : 0), 0);
    const shown = grid.dataset.shown || String(rows.length);
    if (count) count.textContent = `${ticked} selected · ${shown} of ${rows.length} shown`;
  }

  let timer = 0;
  bar.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 80); });
  bar.addEventListener("change", apply);
  bar.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); apply(); } });
  bar.addEventListener("click", (event) => {
    const button = event.target.closest("[data-select]");
    if (!button) return;
    const all = button.dataset.select === "matching";
    for (const entry of rows) {
      if (entry.box && !entry.box.disabled && (!all || !entry.row.hidden)) entry.box.checked = all;
    }
    tally();
  });
  grid.addEventListener("change", tally);
  apply();
})();
