// The dashboard's behaviour: charts, the live "active now", the world map, the funnel
// builder, confirmations. No inline script anywhere (the pages' CSP forbids it): data
// arrives in <script type="application/json"> blocks and is only ever set as text.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const data = (id) => JSON.parse(document.getElementById(id).textContent);
  const BLUE = "#2563eb";
  const GREY = "#cbd5e1";

  // -- forms --------------------------------------------------------------------------
  function forms(root) {
    $$("select[data-autosubmit]", root).forEach((select) => {
      select.addEventListener("change", () => {
        const custom = select.form.querySelector(".custom");
        if (select.value === "custom" && custom) {
          custom.removeAttribute("data-hidden");
          select.form.querySelector("input[type=date]").focus();
          return;
        }
        if (custom) custom.querySelectorAll("input").forEach((i) => (i.disabled = true));
        select.form.submit();
      });
    });
    // Delegated, so forms that htmx swaps in later ask too.
    document.addEventListener("submit", (event) => {
      const form = event.target.closest("form[data-confirm]");
      if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
    });
    document.addEventListener("click", (event) => {
      const opener = event.target.closest("[data-open-dialog]");
      if (opener) document.getElementById(opener.dataset.openDialog).showModal();
      const closer = event.target.closest("[data-close-dialog]");
      if (closer) closer.closest("dialog").close();
    });
    const range = $("form.range");
    if (range) {
      range.addEventListener("submit", () => {
        const select = range.querySelector("select[name=range]");
        if (select.value === "custom") select.disabled = true;
      });
    }
  }

  // -- funnel builder -----------------------------------------------------------------
  function funnelBuilder() {
    const form = $("#funnel-form");
    if (!form) return;
    const list = $("#steps");
    const renumber = () =>
      $$("li.step", list).forEach((li, i) => {
        li.querySelector("[data-step-value]").setAttribute("aria-label", `Step ${i + 1}`);
      });
    list.addEventListener("click", (event) => {
      if (event.target.matches("[data-remove-step]") && $$("li.step", list).length > 2) {
        event.target.closest("li").remove();
        renumber();
      }
    });
    $("#add-step").addEventListener("click", () => {
      const items = $$("li.step", list);
      if (items.length >= 10) return;
      const copy = items[items.length - 1].cloneNode(true);
      copy.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id"));
      copy.querySelector("[data-step-value]").value = "";
      list.appendChild(copy);
      renumber();
      copy.querySelector("[data-step-value]").focus();
    });
    form.addEventListener("submit", () => {
      $$("li.step", list).forEach((li) => {
        const kind = li.querySelector("[data-step-kind]").value;
        const value = li.querySelector("[data-step-value]").value.trim();
        li.querySelector("input[name=step]").value = value ? `${kind}:${value}` : "";
      });
    });
  }

  // -- charts -------------------------------------------------------------------------
  function charts() {
    if (!window.Chart) return;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;
    $$("canvas[data-chart]").forEach((canvas) => {
      const d = data(canvas.dataset.source);
      const kind = canvas.dataset.chart;
      if (kind === "line") {
        new Chart(canvas, {
          type: "line",
          data: {
            labels: d.labels,
            datasets: [
              { label: "Sessions", data: d.sessions, borderColor: BLUE, backgroundColor: "rgba(37,99,235,.12)", fill: true, tension: 0.25, pointRadius: 0 },
              { label: "Visitors", data: d.visitors, borderColor: "#0f766e", tension: 0.25, pointRadius: 0 },
            ],
          },
          options: { maintainAspectRatio: false, interaction: { mode: "index", intersect: false }, scales: { y: { beginAtZero: true } } },
        });
      } else if (kind === "funnel") {
        new Chart(canvas, {
          type: "bar",
          data: {
            labels: d.labels,
            datasets: [
              { label: "Reached", data: d.count, backgroundColor: BLUE },
              { label: "Dropped", data: d.drop, backgroundColor: GREY },
            ],
          },
          options: { maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
        });
      } else if (kind === "doughnut") {
        const colors = ["#2563eb", "#0f766e", "#f59e0b", "#db2777", "#7c3aed", "#64748b", "#16a34a", "#dc2626"];
        new Chart(canvas, {
          type: "doughnut",
          data: { labels: d.labels.map((l) => (l === null ? "(none)" : l)), datasets: [{ data: d.sessions, backgroundColor: colors }] },
          options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
        });
      }
    });
  }

  // -- active now over Server-Sent Events ----------------------------------------------
  function live() {
    const box = $("[data-live-url]");
    if (!box || !window.EventSource) return;
    const source = new EventSource(box.dataset.liveUrl);
    source.addEventListener("active", (event) => {
      const d = JSON.parse(event.data);
      box.querySelector(".value").textContent = d.sessions.toLocaleString("en-US");
      box.querySelector(".sub").textContent = `${d.visitors.toLocaleString("en-US")} visitors`;
      box.dataset.updated = String(Date.now());
    });
    window.addEventListener("pagehide", () => source.close());
  }

  // -- work sessions: refresh the board (or the session) when the live bus says so -----
  function workLive() {
    const box = $("[data-work-live]");
    if (!box || !window.EventSource) return;
    const source = new EventSource(box.dataset.workLive);
    let pending = null;
    const refresh = () => {
      pending = null;
      htmx.ajax("GET", box.dataset.refresh, { target: box, swap: "innerHTML" }).then(() => {
        box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
      });
    };
    source.addEventListener("ready", () => (box.dataset.live = "1"));
    source.addEventListener("changed", () => {
      // A burst of changes (a transition and its goals) makes one refresh.
      if (pending === null) pending = setTimeout(refresh, 150);
    });
    window.addEventListener("pagehide", () => source.close());
  }

  // -- the world map ------------------------------------------------------------------
  // An equirectangular projection of the vendored Natural Earth TopoJSON (world-atlas),
  // shaded on a log scale of sessions; countries are matched by ISO numeric code.
  async function worldMap() {
    const box = $("#world");
    if (!box || !window.topojson) return;
    const shading = data(box.dataset.mapSource);
    const [world, codes] = await Promise.all([
      fetch("/dashboard/static/vendor/countries-110m.json").then((r) => r.json()),
      fetch("/dashboard/static/vendor/countries.json").then((r) => r.json()),
    ]);
    const byNumeric = {};
    for (const [alpha2, item] of Object.entries(codes)) byNumeric[item.n] = [alpha2, item.name];
    const max = Math.max(1, ...Object.values(shading));
    const W = 960, H = 480;
    const project = ([lon, lat]) => [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];
    const ring = (points) => {
      let d = "", prev = null;
      for (const p of points) {
        const [x, y] = project(p);
        // A jump across the antimeridian starts a new piece instead of a line across the map.
        d += (prev === null || Math.abs(p[0] - prev) > 180 ? "M" : "L") + x.toFixed(1) + "," + y.toFixed(1);
        prev = p[0];
      }
      return d + "Z";
    };
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 30 ${W} ${H - 90}`);
    const features = topojson.feature(world, world.objects.countries).features;
    for (const f of features) {
      if (!f.geometry) continue;
      const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
      const path = document.createElementNS(NS, "path");
      path.setAttribute("d", polys.map((poly) => poly.map(ring).join("")).join(""));
      const [alpha2, name] = byNumeric[f.id] || [null, f.properties.name];
      const count = (alpha2 && shading[alpha2]) || 0;
      const t = count ? 0.15 + 0.85 * (Math.log(count + 1) / Math.log(max + 1)) : 0;
      path.setAttribute("fill", count ? `rgba(37, 99, 235, ${t.toFixed(3)})` : "#e2e8f0");
      if (alpha2) path.dataset.country = alpha2;
      const title = document.createElementNS(NS, "title");
      title.textContent = `${name}: ${count.toLocaleString("en-US")} sessions`;
      path.appendChild(title);
      svg.appendChild(path);
    }
    box.appendChild(svg);
    box.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", () => {
    forms(document);
    funnelBuilder();
    charts();
    live();
    workLive();
    worldMap();
  });
})();
