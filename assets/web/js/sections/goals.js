// Goals (GET/PUT /goals): shown when the server documents the route. Today's cards show progress
// against them and the trend charts draw them as lines (both read the same routes).
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy, status } = HT.forms;

  const GOALS = [
    { key: "steps", label: "Steps", unit: "steps", step: 1 },
    { key: "sleep", label: "Sleep", unit: "h", step: 0.25 },
    { key: "calories", label: "Calories", unit: "kcal", step: 1 },
    { key: "waterIntake", label: "Water", unit: "cups", step: 0.5 },
    { key: "heartRate", label: "Heart rate", unit: "bpm", step: 1 },
    { key: "restingHeartRate", label: "Resting heart rate", unit: "bpm", step: 1 },
    { key: "activeEnergy", label: "Active energy", unit: "kcal", step: 1 },
    { key: "weight", label: "Weight", unit: "kg", step: 0.1 },
  ];

  HT.accountSection({
    order: 15,
    when: () => HT.features.has("/goals", "put"),
    async render() {
      const current = (await HT.api.get("/goals")).data || {};
      const alert = alertBox();
      const rows = GOALS.map((g) => h("fieldset", {},
        h("legend", { text: `${g.label} (${g.unit})` }),
        h("div", { class: "grid" },
          field({ name: `${g.key}-min`, path: `${g.key}.min`, label: "At least", type: "number", inputmode: "decimal", step: g.step, unit: g.unit, value: current[g.key] && current[g.key].min }),
          field({ name: `${g.key}-max`, path: `${g.key}.max`, label: "At most", type: "number", inputmode: "decimal", step: g.step, unit: g.unit, value: current[g.key] && current[g.key].max }))));
      const submit = h("button", { class: "button", type: "submit", text: "Save goals" });
      const form = h("form", { novalidate: true }, alert, h("p", { class: "muted", text: "Leave both blank for no goal. A day meets a goal when its value is recorded and inside the bounds." }), rows, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const goals = {};
        for (const g of GOALS) {
          const min = form.elements[`${g.key}-min`].value.trim();
          const max = form.elements[`${g.key}-max`].value.trim();
          if (min === "" && max === "") continue;
          goals[g.key] = {};
          if (min !== "") goals[g.key].min = Number(min);
          if (max !== "") goals[g.key].max = Number(max);
        }
        const done = busy(submit, "Saving…");
        try {
          await HT.api.put("/goals", goals);
          status(alert, "Goals saved.");
          alert.focus();
        } catch (error) {
          showError(form, error);
        } finally {
          done();
        }
      });
      return h("section", { class: "card", id: "goals", "aria-labelledby": "goals-title" }, h("h2", { id: "goals-title", text: "Goals" }), form);
    },
  });
})(window.HT);
