// History: the logged days newest first, for a range; each day opens to all its fields, with edit
// and delete (delete asks once, naming the day).
"use strict";
(function (HT) {
  const { h } = HT;

  const PRESETS = [
    { value: "30", label: "30 days" },
    { value: "90", label: "90 days" },
    { value: "365", label: "Year" },
    { value: "custom", label: "Custom" },
  ];

  function quick(entry) {
    const parts = [];
    if (entry.calories) parts.push(`${HT.fmt.number(entry.calories)} kcal`);
    const sleep = entry.sleepHours !== undefined ? entry.sleepHours : entry.sleep;
    if (sleep) parts.push(`${HT.fmt.number(sleep, 2)} h sleep`);
    if (entry.steps) parts.push(`${HT.fmt.number(entry.steps)} steps`);
    if (entry.weight) parts.push(`${HT.fmt.number(entry.weight, 1)} kg`);
    parts.push(HT.fmt.mood(entry.mood));
    return parts.join(" · ");
  }

  // Every field of an entry, with units; blank (0) figures say "not recorded".
  function fields(entry) {
    const rows = [];
    const add = (name, value) => rows.push(h("dt", { text: name }), h("dd", { text: value }));
    for (const metric of HT.metrics) {
      const value = entry[metric.key];
      if (metric.optional && (value === null || value === undefined)) continue;
      add(metric.label, value ? HT.fmt.withUnit(value, metric.unit, metric.digits) : "not recorded");
    }
    if (entry.bloodPressure) add("Blood pressure", `${entry.bloodPressure.systolic}/${entry.bloodPressure.diastolic} mmHg`);
    add("Workout", entry.workouts ? "Yes" : "No");
    add("Mood", HT.fmt.mood(entry.mood));
    add("Symptoms", (entry.symptoms || []).length ? entry.symptoms.join(", ") : "none");
    add("Meals", (entry.foodIntake || []).length
      ? entry.foodIntake.map((f) => `${f.meal}: ${f.food}${f.calories ? ` (${HT.fmt.number(f.calories)} kcal)` : ""}`).join("; ")
      : "none");
    add("Notes", entry.notes || "none");
    return h("dl", { class: "fields" }, rows);
  }

  HT.page("history", {
    title: "History",
    nav: { label: "History", order: 30 },
    async render(ctx) {
      const today = HT.days.today();
      const open = ctx.params.get("open");
      let preset = ctx.params.get("range") || "30";
      let from = ctx.params.get("from");
      let to = ctx.params.get("to");
      if (from || to) preset = "custom";
      if (preset !== "custom") {
        to = today;
        from = HT.days.add(today, -(Number(preset) - 1));
      }
      to = HT.days.valid(to || "") ? to : today;
      from = HT.days.valid(from || "") ? from : HT.days.add(to, -29);
      if (open && HT.days.valid(open) && open < from) from = open;

      const status = h("div", { role: "status" });
      const list = h("ul", { class: "entries" });
      const entries = await HT.api.get("/entries", { from, to, limit: 366 });

      const go = (query) => ctx.navigate(`/app/history?${new URLSearchParams(query)}`, { replace: true });
      const presetName = HT.uid("range");
      const fromField = HT.forms.field({ name: "from", label: "From", type: "date", value: from, max: to });
      const toField = HT.forms.field({ name: "to", label: "To", type: "date", value: to, max: HT.days.add(today, 1) });
      const custom = h("div", { class: "range-bar", hidden: preset !== "custom" }, fromField, toField,
        h("button", { type: "submit", class: "button secondary", text: "Show" }));
      const controls = h("form", { class: "card range-bar", "aria-label": "Range" },
        h("fieldset", {},
          h("legend", { text: "Range" }),
          h("div", { class: "segmented" }, PRESETS.map((p) => {
            const id = HT.uid("preset");
            return [
              h("input", { type: "radio", name: presetName, id, value: p.value, checked: p.value === preset, onchange: () => {
                if (p.value === "custom") { custom.hidden = false; fromField.querySelector("input").focus(); } else go({ range: p.value });
              } }),
              h("label", { for: id, text: p.label }),
            ];
          }))),
        custom);
      controls.addEventListener("submit", (event) => {
        event.preventDefault();
        const f = controls.elements.from.value;
        const t = controls.elements.to.value;
        if (HT.days.valid(f) && HT.days.valid(t)) go({ from: f, to: t });
      });

      const draw = () => {
        if (!entries.length) {
          list.replaceChildren();
          status.replaceChildren(h("div", { class: "card empty" },
            h("p", { text: `No entries between ${HT.fmt.day(from, "medium")} and ${HT.fmt.day(to, "medium")}.` }),
            h("a", { class: "button", href: "/app/log", text: "Log a day" })));
          return;
        }
        status.replaceChildren(h("p", { class: "muted", text: `${entries.length} day${entries.length === 1 ? "" : "s"} logged between ${HT.fmt.day(from, "medium")} and ${HT.fmt.day(to, "medium")}${entries.length === 366 ? " (the newest 366 are shown)" : ""}.` }));
        list.replaceChildren(...entries.map((entry) => {
          const day = HT.days.ymd(entry.date);
          const rowStatus = h("div", { role: "alert", class: "alert alert-error", hidden: true });
          const remove = h("button", {
            type: "button",
            class: "button danger small",
            text: "Delete",
            "aria-label": `Delete ${HT.fmt.day(day)}`,
            onclick: async () => {
              const ok = await HT.confirm({ title: `Delete ${HT.fmt.day(day)}?`, message: "The entry for this day and everything in it is removed. This cannot be undone.", confirm: "Delete", danger: true });
              if (!ok) { remove.focus(); return; }
              try {
                await HT.api.del(`/entries/${entry.id}`);
                entries.splice(entries.indexOf(entry), 1);
                draw();
                HT.announce(`Deleted ${HT.fmt.day(day)}.`);
                status.prepend(h("div", { class: "alert alert-ok" }, h("p", { text: `Deleted ${HT.fmt.day(day)}.` })));
                const heading = document.querySelector("main h1");
                if (heading) heading.focus();
              } catch (error) {
                rowStatus.hidden = false;
                rowStatus.replaceChildren(h("p", { text: error.message }));
              }
            },
          });
          return h("li", { "data-day": day },
            h("details", { class: "entry", open: day === open },
              h("summary", {}, h("span", { class: "day", text: HT.fmt.day(day) }), h("span", { class: "quick", text: quick(entry) })),
              h("div", { class: "body" },
                fields(entry),
                rowStatus,
                h("div", { class: "actions" },
                  h("a", { class: "button secondary small", href: `/app/log?date=${day}`, "aria-label": `Edit ${HT.fmt.day(day)}`, text: "Edit" }),
                  remove))));
        }));
      };
      draw();

      return h("div", {},
        h("div", { class: "page-head" }, h("h1", { text: "History" }), h("a", { class: "button", href: "/app/log", text: "Log a day" })),
        ctx.flash ? h("div", { class: "alert alert-ok", role: "status" }, h("p", { text: ctx.flash })) : null,
        controls,
        status,
        list);
    },
  });
})(window.HT);
