// Form fields with their labels, hints and error slots, and the one way errors are shown: the API's
// `message` at the top of the form (focused, announced) and each of its `details` beside the field
// it names (`path`), marked invalid for screen readers.
"use strict";
(function (HT) {
  const { h } = HT;

  // A labelled input. `path` is the API's name for the value (what a validation detail points at).
  function field(spec) {
    const id = spec.id || HT.uid(spec.name || "field");
    const hintId = spec.hint ? `${id}-hint` : null;
    const errorId = `${id}-error`;
    const attrs = {
      id,
      name: spec.name,
      type: spec.type || "text",
      inputmode: spec.inputmode,
      step: spec.step,
      min: spec.min,
      max: spec.max,
      maxlength: spec.maxlength,
      placeholder: spec.placeholder,
      autocomplete: spec.autocomplete || "off",
      required: spec.required,
      value: spec.value === undefined || spec.value === null ? "" : String(spec.value),
      list: spec.list,
      accept: spec.accept,
      "data-path": spec.path || spec.name,
      "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
    };
    const control = spec.type === "textarea"
      ? h("textarea", { ...attrs, type: null, rows: spec.rows || 3 })
      : spec.type === "select"
        ? h("select", { ...attrs, type: null, value: null },
          (spec.options || []).map((o) => h("option", { value: o.value, selected: String(o.value) === String(spec.value), text: o.label })))
        : h("input", attrs);
    const input = spec.unit ? h("div", { class: "with-unit" }, control, h("span", { "aria-hidden": "true", text: spec.unit })) : control;
    return h("div", { class: `field${spec.class ? ` ${spec.class}` : ""}` },
      h("label", { for: id }, spec.label, spec.unit ? h("span", { class: "visually-hidden", text: ` (${spec.unitLong || spec.unit})` }) : null),
      input,
      spec.hint ? h("p", { class: "hint", id: hintId, text: spec.hint }) : null,
      h("p", { class: "error", id: errorId }));
  }

  // The alert at the top of a form (role=alert: read out when it fills).
  function alertBox() {
    return h("div", { class: "alert alert-error", role: "alert", tabindex: "-1", "data-form-alert": "" });
  }

  function clearErrors(root) {
    for (const el of root.querySelectorAll("[aria-invalid=true]")) el.removeAttribute("aria-invalid");
    for (const el of root.querySelectorAll(".field .error")) el.textContent = "";
    const alert = root.querySelector("[data-form-alert]");
    if (alert) alert.replaceChildren();
  }

  // Shows `error` (an ApiError or any Error) in `root`: the message on top, each detail at its field.
  // Details whose field is not on the form are listed under the message.
  function showError(root, error, extra) {
    clearErrors(root);
    const alert = root.querySelector("[data-form-alert]");
    const unplaced = [];
    let first = null;
    for (const detail of (error && error.details) || []) {
      const control = root.querySelector(`[data-path="${CSS.escape(detail.path)}"]`);
      const slot = control && document.getElementById(`${control.id}-error`);
      if (control && slot) {
        control.setAttribute("aria-invalid", "true");
        slot.textContent = slot.textContent ? `${slot.textContent} ${detail.msg}` : detail.msg;
        first = first || control;
      } else {
        unplaced.push(detail.msg);
      }
    }
    if (alert) {
      HT.append(alert, h("p", { text: (error && error.message) || "Something went wrong" }));
      if (unplaced.length > 1 || (unplaced.length === 1 && unplaced[0] !== error.message)) {
        alert.append(h("ul", {}, unplaced.map((m) => h("li", { text: m }))));
      }
      if (extra) alert.append(extra);
      // The message is where the person is looking: the top of the form, or the first bad field.
      if (first && (error.details || []).length === 1) first.focus();
      else alert.focus();
    } else if (first) {
      first.focus();
    }
  }

  // Disables a submit button while its request runs; returns a function that restores it.
  function busy(button, label) {
    const text = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (label) button.textContent = label;
    return () => {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = text;
    };
  }

  // A status line under a section ("Saved.").
  function status(el, message, kind = "ok") {
    el.className = `alert alert-${kind}`;
    el.replaceChildren(h("p", { text: message }));
  }

  HT.forms = { field, alertBox, clearErrors, showError, busy, status };
})(window.HT);
