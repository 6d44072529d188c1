// Log or edit a day: one form for every field, the same for a new day and an old one. Numeric
// keyboards on phones, sleep by the quarter hour, the mood as five buttons, symptoms and meals as
// chips and rows; nothing required but the day. Errors appear beside the field they are about.
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy } = HT.forms;

  const SUGGESTED_SYMPTOMS = ["Headache", "Fatigue", "Dizziness", "Nausea", "Cough"];
  const MEALS = ["breakfast", "lunch", "dinner", "snack"];
  const label = (s) => s[0].toUpperCase() + s.slice(1);

  // The numeric fields: API name, label, unit, keyboard, step, limits (the server checks them too).
  const NUMBERS = [
    { name: "calories", label: "Calories eaten", unit: "kcal", unitLong: "kilocalories", inputmode: "numeric", step: 1, min: 0, max: 10000 },
    { name: "sleep", label: "Sleep", unit: "h", unitLong: "hours", inputmode: "decimal", step: 0.25, min: 0, max: 24 },
    { name: "steps", label: "Steps", inputmode: "numeric", step: 1, min: 0, max: 200000 },
    { name: "heartRate", label: "Heart rate", unit: "bpm", unitLong: "beats per minute", inputmode: "numeric", step: 1, min: 0, max: 220 },
    { name: "waterIntake", label: "Water", unit: "cups", inputmode: "decimal", step: 0.5, min: 0, max: 100 },
  ];
  // Body measurements: shown when the server's entries take them (null means not recorded).
  const MEASUREMENTS = [
    { name: "weight", label: "Weight", unit: "kg", unitLong: "kilograms", inputmode: "decimal", step: 0.1, min: 20, max: 400 },
    { name: "restingHeartRate", label: "Resting heart rate", unit: "bpm", unitLong: "beats per minute", inputmode: "numeric", step: 1, min: 20, max: 220 },
    { name: "activeEnergy", label: "Active energy", unit: "kcal", unitLong: "kilocalories", inputmode: "numeric", step: 1, min: 0, max: 20000 },
  ];

  function numberField(spec, value, blankZero) {
    const shown = value === null || value === undefined || (blankZero && value === 0) ? "" : value;
    return field({ ...spec, type: "number", value: shown });
  }

  function moodField(selected) {
    const name = HT.uid("mood");
    return h("fieldset", { "data-path": "mood", id: `${name}-set` },
      h("legend", { text: "Mood" }),
      h("div", { class: "mood" }, HT.moods.map((m) => {
        const id = HT.uid("mood");
        return [
          h("input", { type: "radio", name: "mood", id, value: m.value, checked: m.value === selected }),
          h("label", { for: id }, h("span", { class: "face", "aria-hidden": "true", text: m.face }), m.label),
        ];
      })),
      h("p", { class: "error", id: `${name}-set-error` }));
  }

  // Symptoms as removable chips; typed ones added with Enter or the button.
  function symptomsField(initial) {
    const symptoms = [...initial];
    const list = h("ul", { class: "chips", "aria-label": "Symptoms added" });
    const inputId = HT.uid("symptom");
    const input = h("input", { id: inputId, type: "text", maxlength: 100, autocomplete: "off", "data-path": "symptoms", "aria-describedby": `${inputId}-error` });
    const draw = () => {
      list.replaceChildren(...symptoms.map((s, i) => h("li", { class: "chip" }, s,
        h("button", { type: "button", "aria-label": `Remove ${s}`, text: "×", onclick: () => { symptoms.splice(i, 1); draw(); input.focus(); } }))));
      for (const button of suggestions.querySelectorAll("button")) button.hidden = symptoms.includes(button.dataset.symptom);
    };
    const add = (text) => {
      const value = text.trim();
      if (value && !symptoms.some((s) => s.toLowerCase() === value.toLowerCase())) symptoms.push(value);
      draw();
    };
    const suggestions = h("div", { class: "suggestions" }, SUGGESTED_SYMPTOMS.map((s) => h("button", {
      type: "button", class: "button secondary small", "data-symptom": s, text: `+ ${s}`, onclick: () => { add(s); input.focus(); },
    })));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        add(input.value);
        input.value = "";
      }
    });
    const wrap = h("div", { class: "field" },
      h("label", { for: inputId, text: "Symptoms" }),
      h("div", { class: "inline-add" }, input, h("button", { type: "button", class: "button secondary", text: "Add", onclick: () => { add(input.value); input.value = ""; input.focus(); } })),
      suggestions,
      list,
      h("p", { class: "error", id: `${inputId}-error` }));
    draw();
    return { element: wrap, values: () => { if (input.value.trim()) { add(input.value); input.value = ""; } return [...symptoms]; } };
  }

  // Meals as rows: meal, food, calories.
  function foodField(initial) {
    const rows = h("div", {});
    const addRow = (item) => {
      const row = h("div", { class: "food-row" },
        field({ name: "meal", label: "Meal", type: "select", value: item.meal || "lunch", options: MEALS.map((m) => ({ value: m, label: label(m) })) }),
        field({ name: "food", label: "Food", value: item.food || "", maxlength: 200, class: "food-name" }),
        field({ name: "foodCalories", label: "Calories", type: "number", inputmode: "numeric", unit: "kcal", unitLong: "kilocalories", value: item.calories || "", min: 0, max: 5000 }),
        h("button", { type: "button", class: "button secondary small", text: "Remove", onclick: () => { row.remove(); reindex(); addButton.focus(); } }));
      rows.append(row);
      reindex();
      return row;
    };
    // Each control names the API path its errors come back under (foodIntake[1].food).
    const reindex = () => [...rows.children].forEach((row, i) => {
      row.querySelector("[name=meal]").dataset.path = `foodIntake[${i}].meal`;
      row.querySelector("[name=food]").dataset.path = `foodIntake[${i}].food`;
      row.querySelector("[name=foodCalories]").dataset.path = `foodIntake[${i}].calories`;
      row.querySelector("button").setAttribute("aria-label", `Remove meal ${i + 1}`);
    });
    const addButton = h("button", { type: "button", class: "button secondary small", text: "+ Add food", onclick: () => addRow({}).querySelector("[name=food]").focus() });
    initial.forEach(addRow);
    return {
      element: h("fieldset", { "data-path": "foodIntake" }, h("legend", { text: "Meals" }), rows, addButton),
      values: () => [...rows.children].map((row) => ({
        meal: row.querySelector("[name=meal]").value,
        food: row.querySelector("[name=food]").value,
        calories: row.querySelector("[name=foodCalories]").value,
      })).filter((item) => item.food.trim() || item.calories !== ""),
    };
  }

  HT.page("log", {
    title: "Log a day",
    nav: { label: "Log", order: 20 },
    async render(ctx) {
      const today = HT.days.today();
      const requested = ctx.params.get("date") || today;
      const day = HT.days.valid(requested) ? requested : today;
      const [entries, measurements] = await Promise.all([
        HT.api.get("/entries", { from: day, to: day }),
        HT.features.entryField("weight"),
      ]);
      const entry = Array.isArray(entries) ? entries[0] || null : null;
      const editing = Boolean(entry);
      const values = entry || {};
      const heading = editing ? `Edit ${day === today ? "today" : HT.fmt.day(day)}` : `Log ${day === today ? "today" : HT.fmt.day(day)}`;

      const alert = alertBox();
      const dayField = field({ name: "date", label: "Day", type: "date", value: day, max: HT.days.add(today, 1), hint: "Pick another day to log or edit it" });
      dayField.querySelector("input").addEventListener("change", (event) => {
        if (HT.days.valid(event.target.value)) ctx.navigate(`/app/log?date=${event.target.value}`, { replace: true });
      });
      const numbers = NUMBERS.map((spec) => numberField(spec, values[spec.name], true));
      const workouts = h("div", { class: "field" }, h("label", { class: "check" },
        h("input", { type: "checkbox", name: "workouts", checked: Boolean(values.workouts), "data-path": "workouts" }), "I worked out"));
      const symptoms = symptomsField(values.symptoms || []);
      const food = foodField(values.foodIntake || []);
      const notesField = field({ name: "notes", label: "Notes", type: "textarea", value: values.notes || "", maxlength: 1000, rows: 3 });

      let measurementFields = null;
      if (measurements) {
        const bp = values.bloodPressure || {};
        measurementFields = h("fieldset", {},
          h("legend", { text: "Body measurements" }),
          h("div", { class: "grid" },
            MEASUREMENTS.map((spec) => numberField(spec, values[spec.name], false)),
            field({ name: "systolic", path: "bloodPressure.systolic", label: "Blood pressure, systolic", type: "number", inputmode: "numeric", unit: "mmHg", value: bp.systolic, min: 60, max: 260 }),
            field({ name: "diastolic", path: "bloodPressure.diastolic", label: "Blood pressure, diastolic", type: "number", inputmode: "numeric", unit: "mmHg", value: bp.diastolic, min: 30, max: 160 })));
      }

      const submit = h("button", { class: "button", type: "submit", text: editing ? "Save changes" : "Save day" });
      const form = h("form", { novalidate: true, "aria-label": heading },
        alert,
        h("div", { class: "card" }, dayField, h("div", { class: "grid" }, numbers), workouts, moodField(values.mood || "neutral")),
        measurementFields ? h("div", { class: "card" }, measurementFields) : null,
        h("div", { class: "card" }, symptoms.element),
        h("div", { class: "card" }, food.element),
        h("div", { class: "card" }, notesField),
        h("div", { class: "actions" }, submit, h("a", { class: "button secondary", href: day === today ? "/app/today" : "/app/history", text: "Cancel" })));

      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        HT.forms.clearErrors(form);
        const body = {};
        for (const spec of NUMBERS) {
          const raw = form.elements[spec.name].value.trim();
          // A blank field is "not recorded": left out of a new day, 0 on an edit (as the API stores it).
          if (raw !== "") body[spec.name] = raw;
          else if (editing) body[spec.name] = 0;
        }
        if (measurements) {
          for (const spec of MEASUREMENTS) {
            const raw = form.elements[spec.name].value.trim();
            if (raw !== "") body[spec.name] = raw;
          }
          const systolic = form.elements.systolic.value.trim();
          const diastolic = form.elements.diastolic.value.trim();
          if (systolic !== "" || diastolic !== "") body.bloodPressure = { systolic, diastolic };
        }
        body.workouts = form.elements.workouts.checked;
        const mood = form.querySelector("input[name=mood]:checked");
        body.mood = mood ? mood.value : "neutral";
        body.symptoms = symptoms.values();
        body.foodIntake = food.values().map((f) => ({ meal: f.meal, food: f.food, calories: f.calories === "" ? 0 : f.calories }));
        body.notes = form.elements.notes.value;
        const done = busy(submit, "Saving…");
        try {
          if (editing) await HT.api.put(`/entries/${entry.id}`, body);
          else await HT.api.post("/entries", { date: day, ...body });
          HT.router.flash(`Saved ${day === today ? "today" : HT.fmt.day(day)}.`);
          ctx.navigate(day === today ? "/app/today" : `/app/history?open=${day}`);
        } catch (error) {
          done();
          const offer = error.status === 409
            ? h("p", {}, h("a", { href: `/app/log?date=${day}`, text: "Edit that day instead" }))
            : null;
          showError(form, error, offer);
        }
      });

      return h("div", {},
        h("h1", { text: heading }),
        h("p", { class: "subtitle", text: editing ? "Change anything and save; blank fields count as not recorded." : "Fill in what you know — only the day is needed." }),
        form);
    },
  });
})(window.HT);
