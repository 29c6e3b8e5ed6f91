// The personalization pages: the affinity, segment-size and experiment-interval charts,
// the rows of the segment and experiment builders. No inline script (the CSP forbids
// it): chart data arrives in <script type="application/json"> blocks, read as text.
"use strict";

(function () {
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const BLUE = "#2563eb";
  const BLUE_SOFT = "rgba(37,99,235,.25)";

  function draw(canvas) {
    if (!window.Chart || canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    const d = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    const kind = canvas.dataset.pchart;
    const base = { maintainAspectRatio: false, animation: false };
    if (kind === "bars") {
      new Chart(canvas, {
        type: "bar",
        data: { labels: d.labels, datasets: [{ label: d.label, data: d.values, backgroundColor: BLUE }] },
        options: {
          ...base,
          indexAxis: "y",
          plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${(100 * c.parsed.x).toFixed(1)}%` } } },
          scales: { x: { beginAtZero: true, ticks: { callback: (v) => `${Math.round(100 * v)}%` } } },
        },
      });
    } else if (kind === "series") {
      new Chart(canvas, {
        type: "line",
        data: { labels: d.labels, datasets: [{ label: d.label, data: d.values, borderColor: BLUE, backgroundColor: "rgba(37,99,235,.12)", fill: true, tension: 0.2, pointRadius: 2 }] },
        options: { ...base, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    } else if (kind === "intervals") {
      // The 95% interval of each variant as a floating bar, the estimate as a point on it.
      const pct = d.percent ? (v) => `${(100 * v).toFixed(2)}%` : (v) => v.toFixed(3);
      new Chart(canvas, {
        data: {
          labels: d.labels,
          datasets: [
            { type: "bar", label: "95% interval", data: d.low.map((lo, i) => [lo, d.high[i]]), backgroundColor: BLUE_SOFT, borderColor: BLUE, borderWidth: 1, barPercentage: 0.35 },
            { type: "line", label: d.metric, data: d.values, showLine: false, pointRadius: 6, pointBackgroundColor: "#0f172a", borderColor: "#0f172a" },
          ],
        },
        options: {
          ...base,
          plugins: {
            tooltip: {
              callbacks: {
                label: (c) => (Array.isArray(c.raw) ? `95% interval ${pct(c.raw[0])} – ${pct(c.raw[1])}` : `${d.metric} ${pct(c.raw)}`),
              },
            },
          },
          scales: { y: { beginAtZero: true, ticks: { callback: (v) => (d.percent ? `${(100 * v).toFixed(1)}%` : v) } } },
        },
      });
    }
  }

  function charts(root) {
    if (!window.Chart) return;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    $$("canvas[data-pchart]", root).forEach(draw);
  }

  // -- repeatable rows (segment conditions, experiment variants) ------------------------
  function rows(root) {
    $$("[data-rows]", root).forEach((list) => {
      if (list.dataset.wired) return;
      list.dataset.wired = "1";
      const most = Number(list.dataset.most || 30);
      const least = Number(list.dataset.least || 1);
      list.addEventListener("click", (event) => {
        const remove = event.target.closest("[data-remove-row]");
        if (remove && $$("[data-row]", list).length > least) remove.closest("[data-row]").remove();
      });
      const add = document.getElementById(list.dataset.addButton);
      if (!add) return;
      add.addEventListener("click", () => {
        const items = $$("[data-row]", list);
        if (items.length >= most) return;
        const copy = items[items.length - 1].cloneNode(true);
        copy.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id"));
        copy.querySelectorAll("input").forEach((input) => (input.value = input.dataset.default || ""));
        copy.querySelectorAll("select").forEach((select) => (select.selectedIndex = 0));
        list.appendChild(copy);
        const first = copy.querySelector("input, select");
        if (first) first.focus();
      });
    });
  }

  // -- the segment form: show the part of the chosen kind -------------------------------
  function modes(root) {
    $$("[data-mode-select]", root).forEach((select) => {
      const form = select.form;
      const show = () =>
        $$("[data-mode]", form).forEach((part) => {
          const on = part.dataset.mode === select.value;
          part.hidden = !on;
          part.querySelectorAll("input, select, textarea").forEach((el) => (el.disabled = !on));
        });
      select.addEventListener("change", show);
      show();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    charts(document);
    rows(document);
    modes(document);
  });
  // Live results arrive as htmx swaps: draw their charts too.
  document.addEventListener("htmx:afterSettle", () => charts(document));
})();
