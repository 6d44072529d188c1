// Elements, formatting and calendar days. Every file of the app is an IIFE that adds to `HT`; the
// server serves them concatenated in the order src/http/web.rs lists (one request, one hash).
"use strict";
window.HT = window.HT || {};
(function (HT) {
  // Builds an element. Text always goes in as text (never as HTML), so nothing a person or the
  // server wrote can run as markup. attrs: class, text, on<Event> handlers, boolean properties,
  // anything else as an attribute (null/false leaves it out).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
      else if (key === "value") el.value = value;
      else if (["checked", "disabled", "hidden", "required", "open", "selected", "multiple"].includes(key)) el[key] = Boolean(value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  let ids = 0;
  HT.uid = (prefix) => `${prefix || "id"}-${++ids}`;
  HT.h = h;
  HT.append = (el, ...children) => append(el, children);

  // Announces a short message to screen readers (the page's polite live region).
  HT.announce = function (message) {
    const region = document.getElementById("announcer");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(() => { region.textContent = message; }, 50);
  };

  const locale = undefined; // the browser's
  const numberFormats = new Map();
  function numberFormat(digits) {
    if (!numberFormats.has(digits)) numberFormats.set(digits, new Intl.NumberFormat(locale, { maximumFractionDigits: digits }));
    return numberFormats.get(digits);
  }

  // Units are part of every figure the app shows.
  HT.units = { calories: "kcal", sleep: "h", steps: "steps", heartRate: "bpm", restingHeartRate: "bpm", waterIntake: "cups", weight: "kg", activeEnergy: "kcal", bloodPressure: "mmHg" };

  HT.fmt = {
    number(value, digits = 0) {
      return value === null || value === undefined || Number.isNaN(value) ? "–" : numberFormat(digits).format(value);
    },
    // "7.5 h", "10,432 steps"; "–" for nothing.
    withUnit(value, unit, digits = 1) {
      if (value === null || value === undefined) return "–";
      return `${HT.fmt.number(value, digits)} ${unit}`;
    },
    // A calendar day (YYYY-MM-DD or the API's UTC midnight) shown as that day, never shifted by the
    // browser's zone.
    day(day, style = "full") {
      const ymd = HT.days.ymd(day);
      const date = new Date(`${ymd}T00:00:00Z`);
      const options = style === "short" ? { day: "numeric", month: "short", timeZone: "UTC" }
        : style === "medium" ? { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }
        : { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" };
      return new Intl.DateTimeFormat(locale, options).format(date);
    },
    // An instant, in the person's own time zone (from their profile).
    time(iso) {
      if (!iso) return "–";
      const options = { dateStyle: "medium", timeStyle: "short" };
      try {
        return new Intl.DateTimeFormat(locale, { ...options, timeZone: HT.profile.timezone() }).format(new Date(iso));
      } catch (_) {
        return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
      }
    },
    mood(mood) {
      const m = HT.moods.find((x) => x.value === mood);
      return m ? `${m.face} ${m.label}` : "–";
    },
  };

  HT.moods = [
    { value: "poor", label: "Poor", face: "😞" },
    { value: "fair", label: "Fair", face: "🙁" },
    { value: "neutral", label: "Neutral", face: "😐" },
    { value: "good", label: "Good", face: "🙂" },
    { value: "excellent", label: "Excellent", face: "😄" },
  ];

  // Calendar days as YYYY-MM-DD strings; arithmetic in UTC so no zone shifts a day.
  HT.days = {
    ymd(value) {
      return String(value).slice(0, 10);
    },
    today(zone) {
      try {
        // en-CA writes dates as YYYY-MM-DD.
        return new Intl.DateTimeFormat("en-CA", { timeZone: zone || HT.profile.timezone(), year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
      } catch (_) {
        return new Date().toISOString().slice(0, 10);
      }
    },
    add(ymd, days) {
      const date = new Date(`${ymd}T00:00:00Z`);
      date.setUTCDate(date.getUTCDate() + days);
      return date.toISOString().slice(0, 10);
    },
    valid(ymd) {
      return /^\d{4}-\d{2}-\d{2}$/.test(ymd) && !Number.isNaN(Date.parse(`${ymd}T00:00:00Z`)) && new Date(`${ymd}T00:00:00Z`).toISOString().startsWith(ymd);
    },
    epochSeconds(ymd) {
      return Date.parse(`${ymd}T00:00:00Z`) / 1000;
    },
  };

  // A confirmation in a native <dialog> (focus trapped and restored by the browser); resolves to
  // true or false.
  HT.confirm = function ({ title, message, confirm = "Confirm", danger = false }) {
    return new Promise((resolve) => {
      const titleId = HT.uid("dialog-title");
      const dialog = h("dialog", { "aria-labelledby": titleId },
        h("h2", { id: titleId, text: title }),
        message ? h("p", { text: message }) : null,
        h("form", { method: "dialog", class: "actions" },
          h("button", { class: "button secondary", value: "cancel", text: "Cancel" }),
          h("button", { class: `button${danger ? " danger" : ""}`, value: "confirm", text: confirm })));
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "confirm");
        dialog.remove();
      });
      document.body.append(dialog);
      dialog.showModal();
      const cancel = dialog.querySelector("button[value=cancel]");
      if (cancel) cancel.focus();
    });
  };

  // Saves a Blob as a file the person downloads.
  HT.download = function (blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    window.setTimeout(() => { URL.revokeObjectURL(url); link.remove(); }, 1000);
  };
})(window.HT);
