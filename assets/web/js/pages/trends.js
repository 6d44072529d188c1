// Trends: one chart per metric from GET /entries/stats, by day, week or month over 4 weeks, 3 months
// or a year; goals drawn as dashed lines when the server has goals. Each chart has its numbers as a
// table too (the chart itself is a picture; the table is what a screen reader reads).
"use strict";
(function (HT) {
  const { h } = HT;

  const RANGES = [
    { value: "28", label: "4 weeks" },
    { value: "91", label: "3 months" },
    { value: "365", label: "Year" },
  ];
  const BUCKETS = [
    { value: "day", label: "Day" },
    { value: "week", label: "Week" },
    { value: "month", label: "Month" },
  ];
  const COLORS = ["#0f766e", "#7c3aed", "#c2410c", "#be185d", "#1d4ed8", "#4d7c0f"];

  // The charts: which bucket figure each line is, its unit, and the goal it is measured against.
  const CHARTS = [
    { key: "steps", title: "Steps", unit: "steps", digits: 0, lines: [{ label: "Steps, daily average", pick: (b) => b.steps && b.steps.avg }] },
    { key: "sleep", title: "Sleep", unit: "h", digits: 2, lines: [{ label: "Sleep, nightly average", pick: (b) => b.sleep && b.sleep.avg }] },
    { key: "weight", title: "Weight", unit: "kg", digits: 1, optional: true, lines: [{ label: "Weight, last of the period", pick: (b) => b.weight && (b.weight.last !== undefined ? b.weight.last : b.weight.avg) }] },
    { key: "calories", title: "Calories", unit: "kcal", digits: 0, lines: [{ label: "Calories, daily average", pick: (b) => b.calories && b.calories.avg }] },
    { key: "heartRate", title: "Heart rate", unit: "bpm", digits: 0, lines: [{ label: "Heart rate, average", pick: (b) => b.heartRate && b.heartRate.avg }] },
    { key: "restingHeartRate", title: "Resting heart rate", unit: "bpm", digits: 0, optional: true, lines: [{ label: "Resting heart rate, average", pick: (b) => b.restingHeartRate && b.restingHeartRate.avg }] },
    { key: "bloodPressure", title: "Blood pressure", unit: "mmHg", digits: 0, optional: true, lines: [
      { label: "Systolic, average", pick: (b) => b.bloodPressure && b.bloodPressure.systolic && b.bloodPressure.systolic.avg },
      { label: "Diastolic, average", pick: (b) => b.bloodPressure && b.bloodPressure.diastolic && b.bloodPressure.diastolic.avg },
    ] },
    { key: "waterIntake", title: "Water", unit: "cups", digits: 1, lines: [{ label: "Water, daily average", pick: (b) => b.waterIntake && b.waterIntake.avg }] },
  ];

  function periodLabel(bucket, kind) {
    if (kind === "day") return HT.fmt.day(bucket.start, "medium");
    if (kind === "month") {
      return new Intl.DateTimeFormat(undefined, { month: "short", year: "numeric", timeZone: "UTC" }).format(new Date(`${bucket.start}T00:00:00Z`));
    }
    return bucket.start === bucket.end ? HT.fmt.day(bucket.start, "medium") : `${HT.fmt.day(bucket.start, "short")} – ${HT.fmt.day(bucket.end, "medium")}`;
  }

  function cssColor(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // "6 Nov" for days and weeks, "Nov 2026" for months (uPlot's default is US-style "11/6").
  function tickLabel(seconds, kind) {
    const date = new Date(seconds * 1000);
    const options = kind === "month" ? { month: "short", year: "numeric", timeZone: "UTC" } : { day: "numeric", month: "short", timeZone: "UTC" };
    return new Intl.DateTimeFormat(undefined, options).format(date);
  }

  // Draws a uPlot chart into `el` once it is on the page, and redraws it at each new width.
  function plot(el, spec, buckets, goal, kind) {
    if (typeof window.uPlot !== "function") return;
    const xs = buckets.map((b) => HT.days.epochSeconds(b.start));
    const text = cssColor("--muted", "#4f5b6b");
    const grid = cssColor("--border", "#d3d9e1");
    const fmt = (v) => (v === null || v === undefined ? "–" : `${HT.fmt.number(v, spec.digits)} ${spec.unit}`);
    const series = [{ label: "Period", value: (u, v) => (v === null || v === undefined ? "–" : HT.fmt.day(new Date(v * 1000).toISOString(), "medium")) }];
    const data = [xs];
    spec.lines.forEach((line, i) => {
      series.push({ label: line.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 7 }, value: (u, v) => fmt(v) });
      data.push(buckets.map((b) => {
        const v = line.pick(b);
        return v === null || v === undefined ? null : v;
      }));
    });
    for (const [bound, value] of Object.entries(goal || {})) {
      if (value === null || value === undefined) continue;
      series.push({ label: `Goal (${bound})`, stroke: text, width: 1.5, dash: [6, 5], points: { show: false }, value: () => fmt(value) });
      data.push(xs.map(() => value));
    }
    let chart = null;
    const draw = (width) => {
      if (width < 50) return;
      if (chart) {
        chart.setSize({ width, height: 220 });
        return;
      }
      chart = new window.uPlot({
        width,
        height: 220,
        // Buckets are calendar days (UTC midnights): ticks fall on them whatever the browser's zone.
        tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "UTC"),
        scales: { x: { time: true } },
        series,
        axes: [
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (u, ticks) => ticks.map((t) => tickLabel(t, kind)) },
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 60, values: (u, values) => values.map((v) => HT.fmt.number(v, spec.digits)) },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      }, data, el);
    };
    new ResizeObserver((changes) => {
      for (const change of changes) draw(Math.floor(change.contentRect.width));
    }).observe(el);
  }

  function table(spec, buckets, kind) {
    return h("details", {},
      h("summary", { text: "Show as a table" }),
      h("div", { class: "table-wrap" },
        h("table", {},
          h("caption", { class: "visually-hidden", text: `${spec.title} by ${kind}` }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Period" }), h("th", { scope: "col", class: "num", text: "Days logged" }),
            spec.lines.map((line) => h("th", { scope: "col", class: "num", text: `${line.label} (${spec.unit})` })))),
          h("tbody", {}, buckets.map((b) => h("tr", {},
            h("th", { scope: "row", text: periodLabel(b, kind) }),
            h("td", { class: "num", text: `${b.daysLogged} of ${b.days}` }),
            spec.lines.map((line) => h("td", { class: "num", text: HT.fmt.number(line.pick(b), spec.digits) }))))))));
  }

  HT.page("trends", {
    title: "Trends",
    nav: { label: "Trends", order: 40 },
    async render(ctx) {
      const today = HT.days.today();
      const range = RANGES.some((r) => r.value === ctx.params.get("range")) ? ctx.params.get("range") : "28";
      const bucket = BUCKETS.some((b) => b.value === ctx.params.get("bucket")) ? ctx.params.get("bucket") : "day";
      const from = HT.days.add(today, -(Number(range) - 1));
      const hasGoals = await HT.features.has("/goals");
      const [stats, goals] = await Promise.all([
        HT.api.get("/entries/stats", { from, to: today, bucket }),
        hasGoals ? HT.api.get("/goals").then((b) => b.data || {}).catch(() => ({})) : Promise.resolve({}),
      ]);
      const buckets = stats.data || [];
      const go = (query) => ctx.navigate(`/app/trends?${new URLSearchParams({ range, bucket, ...query })}`, { replace: true });
      const segmented = (legend, options, selected, key) => {
        const name = HT.uid(key);
        return h("fieldset", {}, h("legend", { text: legend }), h("div", { class: "segmented" }, options.map((o) => {
          const id = HT.uid(key);
          return [
            h("input", { type: "radio", name, id, value: o.value, checked: o.value === selected, onchange: () => go({ [key]: o.value }) }),
            h("label", { for: id, text: o.label }),
          ];
        })));
      };
      const logged = buckets.reduce((n, b) => n + b.daysLogged, 0);
      const charts = [];
      for (const spec of CHARTS) {
        const values = buckets.map((b) => spec.lines[0].pick(b));
        if (spec.optional && !values.some((v) => v !== null && v !== undefined)) continue;
        const present = values.filter((v) => v !== null && v !== undefined);
        const latestIndex = values.map((v) => v !== null && v !== undefined).lastIndexOf(true);
        const summary = present.length
          ? `Latest ${HT.fmt.withUnit(values[latestIndex], spec.unit, spec.digits)} (${periodLabel(buckets[latestIndex], bucket)}) · highest ${HT.fmt.withUnit(Math.max(...present), spec.unit, spec.digits)}`
          : "Nothing recorded in this range.";
        const area = h("div", { class: "plot", "aria-hidden": "true", "data-chart": spec.key });
        const titleId = HT.uid("chart");
        charts.push(h("figure", { class: "chart", "aria-labelledby": titleId },
          h("figcaption", { id: titleId, text: `${spec.title}${spec.unit === spec.title.toLowerCase() ? "" : ` (${spec.unit})`} by ${bucket}` }),
          h("p", { class: "summary", text: summary }),
          area,
          table(spec, buckets, bucket)));
        plot(area, spec, buckets, goals[spec.key], bucket);
      }
      return h("div", {},
        h("h1", { text: "Trends" }),
        h("form", { class: "card range-bar", "aria-label": "What to show", onsubmit: (e) => e.preventDefault() },
          segmented("Range", RANGES, range, "range"),
          segmented("Group by", BUCKETS, bucket, "bucket")),
        logged === 0
          ? h("div", { class: "card empty" }, h("p", { text: "No entries in this range yet — your trends appear as you log days." }), h("a", { class: "button", href: "/app/log", text: "Log a day" }))
          : h("p", { class: "muted", text: `${logged} day${logged === 1 ? "" : "s"} logged from ${HT.fmt.day(stats.from, "medium")} to ${HT.fmt.day(stats.to, "medium")}. Averages count only days with a value.` }),
        h("div", { class: "charts" }, charts));
    },
  });
})(window.HT);
