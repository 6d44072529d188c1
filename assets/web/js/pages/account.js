// The account: profile and time zone, password, sessions, the person's data (export, import),
// deletion — and the sections for features a server may not have yet (personal tokens, two-factor
// login, device imports), each shown when the server documents its route. A new section is one
// more HT.accountSection(...) call.
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy, status } = HT.forms;
  const sections = [];

  // Registers a section: `when` (optional) decides whether the server has it; `render(ctx)` draws it.
  HT.accountSection = function (spec) {
    sections.push(spec);
    sections.sort((a, b) => a.order - b.order);
  };

  function section(title, id, ...children) {
    return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title`, text: title }), children);
  }

  // --- profile ---------------------------------------------------------------------------------
  HT.accountSection({
    order: 10,
    async render() {
      const me = HT.profile.current();
      const zones = await HT.features.timeZones();
      const listId = HT.uid("zones");
      const alert = alertBox();
      const name = field({ name: "name", label: "Name", value: me.name, autocomplete: "name", maxlength: 100 });
      const zone = field({ name: "timezone", label: "Time zone", value: me.timezone || "", list: listId, hint: "Type to search, e.g. Europe/Berlin. It decides which day “today” is." });
      const device = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const useDevice = device && device !== me.timezone && zones.includes(device)
        ? h("button", { type: "button", class: "link-button", text: `Use this device's zone (${device})`, onclick: () => { form.elements.timezone.value = device; form.elements.timezone.focus(); } })
        : null;
      const submit = h("button", { class: "button", type: "submit", text: "Save profile" });
      const form = h("form", { novalidate: true },
        alert,
        name,
        h("div", { class: "field" }, h("span", { class: "label", text: "Email" }), h("p", { text: me.email })),
        zone, useDevice,
        h("datalist", { id: listId }, zones.map((z) => h("option", { value: z }))),
        h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const done = busy(submit, "Saving…");
        try {
          const body = await HT.api.patch("/auth/me", { name: form.elements.name.value.trim(), timezone: form.elements.timezone.value.trim() });
          HT.profile.set(body.user);
          HT.api.setUser({ id: body.user.id, name: body.user.name, email: body.user.email });
          status(alert, "Profile saved.");
          alert.focus();
        } catch (error) {
          showError(form, error);
        } finally {
          done();
        }
      });
      return section("Profile", "profile", form);
    },
  });

  // --- password --------------------------------------------------------------------------------
  HT.accountSection({
    order: 20,
    async render() {
      const alert = alertBox();
      const current = field({ name: "currentPassword", label: "Current password", type: "password", autocomplete: "current-password" });
      const next = field({ name: "newPassword", label: "New password", type: "password", autocomplete: "new-password" });
      next.insertBefore(HT.passwordRules(next.querySelector("input")), next.querySelector(".error"));
      const code = HT.profile.current().twoFactor
        ? field({ name: "code", label: "Code from your authenticator app", inputmode: "numeric", autocomplete: "one-time-code" })
        : null;
      const submit = h("button", { class: "button", type: "submit", text: "Change password" });
      const form = h("form", { novalidate: true }, alert, current, next, code, h("p", { class: "muted", text: "Every other device you are logged in on is logged out." }), h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const done = busy(submit, "Changing…");
        const payload = { currentPassword: form.elements.currentPassword.value, newPassword: form.elements.newPassword.value };
        if (code) payload.code = form.elements.code.value.trim();
        try {
          const body = await HT.api.post("/auth/change-password", payload);
          HT.api.begin(body);
          form.reset();
          status(alert, "Password changed. Your other devices are logged out.");
          alert.focus();
        } catch (error) {
          showError(form, error);
        } finally {
          done();
        }
      });
      return section("Password", "password", form);
    },
  });

  // --- sessions --------------------------------------------------------------------------------
  function describeAgent(agent) {
    if (!agent) return "Unknown device";
    const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrom(e|ium)\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : null;
    const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Windows/.test(agent) ? "Windows" : /Mac OS X/.test(agent) ? "macOS" : /Linux/.test(agent) ? "Linux" : null;
    return browser || system ? [browser, system].filter(Boolean).join(" on ") : agent.slice(0, 60);
  }

  HT.accountSection({
    order: 30,
    async render(ctx) {
      const alert = alertBox();
      const list = h("ul", { class: "sessions", "aria-label": "Where you are logged in" });
      const draw = async () => {
        const body = await HT.api.get("/auth/sessions");
        list.replaceChildren(...body.data.map((s) => {
          const what = describeAgent(s.userAgent);
          return h("li", { "data-session": s.id, "data-current": s.current ? "true" : null },
            h("div", {},
              h("strong", { text: what }),
              s.current ? h("span", { class: "this", text: " · this device" }) : null,
              h("br"),
              h("span", { class: "muted", text: `Logged in ${HT.fmt.time(s.createdAt)} · last active ${HT.fmt.time(s.lastUsedAt)}` })),
            s.current ? null : h("button", {
              type: "button",
              class: "button secondary small",
              text: "Log out",
              "aria-label": `Log out ${what}, logged in ${HT.fmt.time(s.createdAt)}`,
              onclick: async (event) => {
                const button = event.currentTarget;
                const done = busy(button, "Logging out…");
                try {
                  await HT.api.del(`/auth/sessions/${encodeURIComponent(s.id)}`);
                  await draw();
                  status(alert, `${what} is logged out.`);
                  alert.focus();
                } catch (error) {
                  done();
                  showError(wrap, error);
                }
              },
            }));
        }));
      };
      await draw();
      const everywhere = h("button", {
        type: "button",
        class: "button secondary",
        text: "Log out everywhere",
        onclick: async () => {
          const ok = await HT.confirm({ title: "Log out everywhere?", message: "Every device, this one included, is logged out.", confirm: "Log out everywhere" });
          if (!ok) { everywhere.focus(); return; }
          await HT.api.logout(true);
          HT.profile.clear();
          HT.router.flash("You are logged out on every device.");
          ctx.navigate("/app/login");
        },
      });
      const wrap = section("Where you are logged in", "sessions", alert, list, h("div", { class: "actions" }, everywhere));
      return wrap;
    },
  });

  // --- your data -------------------------------------------------------------------------------
  async function exportFormats() {
    const values = await HT.features.parameterValues("/export", "format");
    if (values) return values;
    const doc = await HT.features.load();
    const op = doc.paths && doc.paths["/export"] && doc.paths["/export"].get;
    const param = op && (op.parameters || []).find((p) => p.name === "format");
    const pattern = param && param.schema && param.schema.pattern;
    const match = pattern && /^\^\(([\w|]+)\)\$$/.exec(pattern);
    return match ? match[1].split("|") : ["json", "csv"];
  }

  const FORMAT_LABELS = { json: "JSON (can be imported again)", csv: "CSV (for spreadsheets)", fhir: "FHIR (for health records)" };

  HT.accountSection({
    order: 40,
    async render() {
      const formats = await exportFormats();
      const alert = alertBox();
      const exportButtons = formats.map((format) => h("button", {
        type: "button",
        class: "button secondary",
        "data-export": format,
        text: `Export ${format.toUpperCase()}`,
        title: FORMAT_LABELS[format] || format,
        onclick: async (event) => {
          const done = busy(event.currentTarget, "Exporting…");
          try {
            const response = await HT.api.request("GET", "/export", { query: { format }, raw: true, accept: "*/*" });
            const disposition = response.headers.get("content-disposition") || "";
            const name = /filename="?([^";]+)"?/.exec(disposition);
            HT.download(await response.blob(), name ? name[1] : `healthtracker-export.${format === "csv" ? "csv" : "json"}`);
            status(alert, `Your ${format.toUpperCase()} export is downloading.`);
          } catch (error) {
            showError(wrap, error);
          } finally {
            done();
          }
        },
      }));

      const importAlert = alertBox();
      const file = field({ name: "file", label: "Export file (JSON)", type: "file", accept: "application/json,.json", hint: "A file from “Export JSON”, of this account or another." });
      const conflict = field({
        name: "onConflict", label: "Days you already have", type: "select", value: "skip",
        options: [{ value: "skip", label: "Keep mine" }, { value: "replace", label: "Replace with the file's" }],
      });
      const submit = h("button", { class: "button", type: "submit", text: "Import" });
      const importForm = h("form", { novalidate: true }, h("h3", { text: "Import" }), importAlert, file, conflict, h("div", { class: "actions" }, submit));
      importForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = importForm.elements.file.files[0];
        if (!chosen) {
          showError(importForm, new HT.ApiError(400, "Choose a file to import.", [{ path: "file", msg: "Choose a file to import." }]));
          return;
        }
        const done = busy(submit, "Importing…");
        try {
          let document;
          try {
            document = JSON.parse(await chosen.text());
          } catch (_) {
            throw new HT.ApiError(400, "That file is not JSON. Choose a file from “Export JSON”.", [{ path: "file", msg: "Not a JSON file." }]);
          }
          const body = await HT.api.post("/import", document, { onConflict: importForm.elements.onConflict.value });
          const problems = (body.errors || []).map((e) => `Entry ${e.index + 1}${e.date ? ` (${e.date})` : ""}: ${(e.details || []).map((d) => d.msg).join("; ")}`);
          status(importAlert, `Imported: ${body.created} new day${body.created === 1 ? "" : "s"}, ${body.updated} replaced, ${body.skipped} kept as they were${problems.length ? `, ${problems.length} not imported` : ""}.`);
          if (problems.length) importAlert.append(h("ul", {}, problems.slice(0, 20).map((p) => h("li", { text: p }))));
          importAlert.focus();
        } catch (error) {
          showError(importForm, error);
        } finally {
          done();
        }
      });

      const wrap = section("Your data", "data",
        alert,
        h("p", { text: "Download everything you have logged." }),
        h("div", { class: "actions" }, exportButtons),
        importForm);
      return wrap;
    },
  });

  // --- delete ----------------------------------------------------------------------------------
  HT.accountSection({
    order: 90,
    async render(ctx) {
      const alert = alertBox();
      const password = field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" });
      const code = HT.profile.current().twoFactor
        ? field({ name: "code", label: "Code from your authenticator app", inputmode: "numeric", autocomplete: "one-time-code" })
        : null;
      const submit = h("button", { class: "button danger", type: "submit", text: "Delete my account" });
      const form = h("form", { novalidate: true }, alert,
        h("p", { text: "Your account, every entry, your conversation with the coach and every login are deleted at once. This cannot be undone — export your data first if you want to keep it." }),
        password, code, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const ok = await HT.confirm({ title: "Delete your account?", message: "Everything is deleted and cannot be recovered.", confirm: "Delete my account", danger: true });
        if (!ok) return;
        const done = busy(submit, "Deleting…");
        const payload = { password: form.elements.password.value };
        if (code) payload.code = form.elements.code.value.trim();
        try {
          await HT.api.del("/auth/me", payload);
          HT.api.forget();
          HT.profile.clear();
          HT.router.flash("Your account has been deleted.");
          ctx.navigate("/app/login");
        } catch (error) {
          done();
          showError(form, error);
        }
      });
      return section("Delete account", "delete", form);
    },
  });

  HT.page("account", {
    title: "Account",
    nav: { label: "Account", order: 60 },
    async render(ctx) {
      await HT.profile.load(true);
      const drawn = await Promise.all(sections.map(async (spec) => {
        if (spec.when && !(await spec.when())) return null;
        try {
          return await spec.render(ctx);
        } catch (error) {
          if (error instanceof HT.SessionEnded) throw error;
          return h("div", { class: "alert alert-error", role: "alert" }, h("p", { text: error.message }));
        }
      }));
      return h("div", {},
        h("h1", { text: "Account" }),
        h("nav", { "aria-label": "Account sections", class: "muted" },
          h("p", {}, drawn.filter(Boolean).map((el, i) => {
            const title = el.querySelector && el.querySelector("h2");
            return title ? [i ? " · " : "", h("a", { href: `#${el.id}`, text: title.textContent })] : null;
          }))),
        drawn);
    },
  });
})(window.HT);
