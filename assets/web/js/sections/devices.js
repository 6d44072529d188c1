// Apple Health import (POST /import/apple-health): shown when the server documents the route. The
// file goes up as it is (the zip the Health app exports, or its export.xml).
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy, status } = HT.forms;

  HT.accountSection({
    order: 45,
    when: () => HT.features.has("/import/apple-health", "post"),
    async render() {
      const alert = alertBox();
      const file = field({ name: "file", label: "export.zip or export.xml", type: "file", accept: ".zip,.xml,application/zip,application/xml,text/xml", hint: "On iPhone: Health → your picture → Export All Health Data." });
      const mode = field({ name: "onConflict", label: "Days you already logged", type: "select", value: "fill", options: [
        { value: "fill", label: "Keep what I typed, fill in the rest" },
        { value: "replace", label: "Use the device's figures" },
      ] });
      const submit = h("button", { class: "button", type: "submit", text: "Import from Apple Health" });
      const form = h("form", { novalidate: true }, alert, file, mode, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = form.elements.file.files[0];
        if (!chosen) {
          showError(form, new HT.ApiError(400, "Choose the export file first.", [{ path: "file", msg: "Choose the export file first." }]));
          return;
        }
        const done = busy(submit, "Importing… (a large export takes a while)");
        try {
          const xml = /\.xml$/i.test(chosen.name);
          const body = await HT.api.request("POST", "/import/apple-health", {
            body: chosen,
            contentType: xml ? "application/xml" : "application/zip",
            query: { onConflict: form.elements.onConflict.value },
          });
          status(alert, `Read ${HT.fmt.number(body.recordsRead)} records: ${body.created} new day${body.created === 1 ? "" : "s"}, ${body.updated} updated, ${body.unchanged} unchanged${body.from ? ` (${HT.fmt.day(body.from, "medium")} – ${HT.fmt.day(body.to, "medium")})` : ""}.`);
          alert.focus();
        } catch (error) {
          showError(form, error);
        } finally {
          done();
        }
      });
      return h("section", { class: "card", id: "apple-health", "aria-labelledby": "apple-health-title" },
        h("h2", { id: "apple-health-title", text: "Apple Health" }), form);
    },
  });
})(window.HT);
