// Today: "how am I doing today?" in one glance — the day's figures as cards (with goal progress when
// the server has goals), the streaks, and one clear button to log or edit today.
"use strict";
(function (HT) {
  const { h } = HT;

  // The cards, in order. `optional` ones (body measurements) show only when the day has a value.
  HT.metrics = [
    { key: "calories", label: "Calories", unit: "kcal", digits: 0 },
    { key: "sleep", label: "Sleep", unit: "h", unitLong: "hours", digits: 2 },
    { key: "steps", label: "Steps", unit: "steps", digits: 0 },
    { key: "heartRate", label: "Heart rate", unit: "bpm", unitLong: "beats per minute", digits: 0 },
    { key: "waterIntake", label: "Water", unit: "cups", digits: 1 },
    { key: "weight", label: "Weight", unit: "kg", unitLong: "kilograms", digits: 1, optional: true },
    { key: "restingHeartRate", label: "Resting heart rate", unit: "bpm", unitLong: "beats per minute", digits: 0, optional: true },
    { key: "activeEnergy", label: "Active energy", unit: "kcal", digits: 0, optional: true },
  ];

  function goalText(goal, unit, digits) {
    const n = (v) => HT.fmt.number(v, digits);
    if (goal.min !== undefined && goal.min !== null && goal.max !== undefined && goal.max !== null) return `Goal ${n(goal.min)}–${n(goal.max)} ${unit}`;
    if (goal.min !== undefined && goal.min !== null) return `Goal at least ${n(goal.min)} ${unit}`;
    return `Goal at most ${n(goal.max)} ${unit}`;
  }

  function card(metric, value, goal) {
    const recorded = value !== null && value !== undefined && value !== 0;
    const items = [
      h("p", { class: "label", text: metric.label }),
      h("p", { class: "value" }, recorded ? HT.fmt.number(value, metric.digits) : "–",
        recorded ? h("small", { text: metric.unit }) : h("span", { class: "visually-hidden", text: "not logged" })),
    ];
    if (goal) {
      items.push(h("p", { class: `goal${goal.met ? " met" : ""}` }, goalText(goal, metric.unit, metric.digits), goal.met ? " · met ✓" : ""));
      if (goal.min) {
        items.push(h("progress", { max: goal.min, value: Math.min(value || 0, goal.min), "aria-label": `${metric.label}: ${HT.fmt.number(value || 0, metric.digits)} of ${HT.fmt.number(goal.min, metric.digits)} ${metric.unit}` }));
      }
    }
    return h("li", { class: "stat", "data-metric": metric.key }, items);
  }

  HT.page("today", {
    title: "Today",
    nav: { label: "Today", order: 10 },
    async render(ctx) {
      const today = HT.days.today();
      const [summary, entries, stats] = await Promise.all([
        HT.api.get("/entries/dashboard/summary"),
        HT.api.get("/entries", { from: today, to: today }),
        HT.api.get("/entries/stats").catch(() => null),
      ]);
      const day = HT.days.ymd(summary.date || today);
      const entry = Array.isArray(entries) ? entries[0] : null;
      const goals = summary.goals || (summary.data && summary.data.goals) || null;
      const figures = summary.data || summary;
      const user = HT.profile.current();

      const cards = [];
      for (const metric of HT.metrics) {
        const value = figures[metric.key];
        if (metric.optional && (value === null || value === undefined)) continue;
        cards.push(card(metric, value, goals && goals[metric.key]));
      }
      cards.push(h("li", { class: "stat", "data-metric": "mood" },
        h("p", { class: "label", text: "Mood" }),
        h("p", { class: "value", text: entry ? HT.fmt.mood(figures.mood) : "–" })));
      cards.push(h("li", { class: "stat", "data-metric": "workouts" },
        h("p", { class: "label", text: "Workout" }),
        h("p", { class: "value", text: figures.workouts ? "Yes" : "–" })));
      if (figures.bloodPressure) {
        cards.push(h("li", { class: "stat", "data-metric": "bloodPressure" },
          h("p", { class: "label", text: "Blood pressure" }),
          h("p", { class: "value" }, `${figures.bloodPressure.systolic}/${figures.bloodPressure.diastolic}`, h("small", { text: "mmHg" }))));
      }

      const action = entry
        ? h("a", { class: "button", href: `/app/log?date=${day}`, text: "Edit today" })
        : h("a", { class: "button", href: `/app/log?date=${day}`, text: "Log today" });

      const streaks = stats && stats.streaks;
      const streakItems = streaks ? [
        h("li", {}, h("strong", { text: HT.fmt.number(streaks.currentLogging) }), ` day${streaks.currentLogging === 1 ? "" : "s"} logged in a row `, h("span", { class: "muted", text: `(best ${HT.fmt.number(streaks.longestLogging)})` })),
        h("li", {}, h("strong", { text: HT.fmt.number(streaks.currentWorkout) }), ` workout day${streaks.currentWorkout === 1 ? "" : "s"} in a row `, h("span", { class: "muted", text: `(best ${HT.fmt.number(streaks.longestWorkout)})` })),
        ...Object.entries(streaks.goals || {}).map(([metric, s]) => h("li", {}, h("strong", { text: HT.fmt.number(s.current) }), ` day${s.current === 1 ? "" : "s"} meeting your ${metric} goal `, h("span", { class: "muted", text: `(best ${HT.fmt.number(s.longest)})` }))),
      ] : [];

      return h("div", {},
        h("div", { class: "page-head" },
          h("div", {},
            h("h1", { text: user ? `Today, ${user.name.split(" ")[0]}` : "Today" }),
            h("p", { class: "subtitle", text: `${HT.fmt.day(day)} · ${HT.profile.timezone()}` })),
          action),
        ctx.flash ? h("div", { class: "alert alert-ok", role: "status" }, h("p", { text: ctx.flash })) : null,
        entry ? null : h("div", { class: "alert alert-info" }, h("p", {}, "Nothing logged today yet — ", h("a", { href: `/app/log?date=${day}`, text: "log today" }), " to see your figures here.")),
        h("h2", { class: "visually-hidden", text: "Today's figures" }),
        h("ul", { class: "stats", "aria-label": "Today's figures" }, cards),
        entry && (figures.symptoms || []).length ? h("div", { class: "card" }, h("h2", { text: "Symptoms" }),
          h("ul", { class: "chips" }, figures.symptoms.map((s) => h("li", { class: "chip plain", text: s })))) : null,
        entry && (figures.foodIntake || []).length ? h("div", { class: "card" }, h("h2", { text: "Meals" }),
          h("ul", {}, figures.foodIntake.map((f) => h("li", {}, `${f.meal[0].toUpperCase()}${f.meal.slice(1)}: ${f.food}`, f.calories ? ` (${HT.fmt.number(f.calories)} kcal)` : "")))) : null,
        streaks ? h("section", { class: "card", "aria-labelledby": "streaks-title" },
          h("h2", { id: "streaks-title", text: "Streaks" }),
          h("ul", { class: "streaks" }, streakItems)) : null,
        h("p", {}, h("a", { href: "/app/trends", text: "See your trends" }), " · ",
          h("a", { href: "/app/coach#weekly-report", text: "Get your weekly report" })));
    },
  });
})(window.HT);
