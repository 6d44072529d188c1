// Personal access tokens (/auth/tokens): for scripts, phone apps and AI assistants. Shown when the
// server documents the route; a new token is shown once, with a copy button.
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy, status } = HT.forms;
  const SCOPES = [
    { value: "entries:read", label: "Read entries" },
    { value: "entries:write", label: "Write entries" },
    { value: "goals:read", label: "Read goals" },
    { value: "goals:write", label: "Write goals" },
    { value: "ai", label: "Use the coach" },
  ];

  HT.accountSection({
    order: 50,
    when: () => HT.features.has("/auth/tokens", "post"),
    async render() {
      const alert = alertBox();
      const list = h("ul", { class: "sessions", "aria-label": "Your personal tokens" });
      const shown = h("div", { "aria-live": "polite" });
      const draw = async () => {
        const body = await HT.api.get("/auth/tokens");
        const tokens = body.data || [];
        list.replaceChildren(...(tokens.length ? tokens.map((t) => h("li", {},
          h("div", {}, h("strong", { text: t.name }), h("br"),
            h("span", { class: "muted", text: `${(t.scopes || []).join(", ")} · expires ${HT.fmt.time(t.expiresAt)} · last used ${t.lastUsedAt ? HT.fmt.time(t.lastUsedAt) : "never"}` })),
          h("button", {
            type: "button", class: "button secondary small", text: "Revoke", "aria-label": `Revoke ${t.name}`,
            onclick: async () => {
              const ok = await HT.confirm({ title: `Revoke “${t.name}”?`, message: "Anything using it stops working at once.", confirm: "Revoke", danger: true });
              if (!ok) return;
              try {
                await HT.api.del(`/auth/tokens/${encodeURIComponent(t.id)}`);
                // A just-made token still on screen may be this one: it is no use any more.
                shown.replaceChildren();
                await draw();
                status(alert, `“${t.name}” is revoked.`);
              } catch (error) {
                showError(wrap, error);
              }
            },
          }))) : [h("li", { class: "muted", text: "No personal tokens." })]));
      };
      await draw();

      const formAlert = alertBox();
      const name = field({ name: "name", label: "Name", hint: "What will use it, e.g. “Phone shortcut”" });
      const expires = field({ name: "expiresInDays", label: "Expires after", type: "number", inputmode: "numeric", unit: "days", value: 90, min: 1, max: 365 });
      const scopes = h("fieldset", { "data-path": "scopes" }, h("legend", { text: "What it may do" }),
        SCOPES.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "scopes", value: s.value, checked: s.value === "entries:read" }), s.label)));
      const submit = h("button", { class: "button", type: "submit", text: "Create token" });
      const form = h("form", { novalidate: true }, h("h3", { text: "New token" }), formAlert, name, scopes, expires, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const done = busy(submit, "Creating…");
        try {
          const body = await HT.api.post("/auth/tokens", {
            name: form.elements.name.value.trim(),
            scopes: [...form.querySelectorAll("input[name=scopes]:checked")].map((c) => c.value),
            expiresInDays: form.elements.expiresInDays.value,
          });
          const copy = h("button", { type: "button", class: "button secondary small", text: "Copy", onclick: async () => {
            try { await navigator.clipboard.writeText(body.token); copy.textContent = "Copied"; } catch (_) { copy.textContent = "Select and copy it"; }
          } });
          shown.replaceChildren(h("div", { class: "alert alert-ok" },
            h("p", { text: "Your new token — it is shown only this once:" }),
            h("p", { class: "secret", text: body.token }), copy));
          // Not form.reset(): the defaults (read entries, 90 days) are properties, not attributes.
          form.elements.name.value = "";
          form.querySelectorAll("input[name=scopes]").forEach((c) => { c.checked = c.value === "entries:read"; });
          form.elements.expiresInDays.value = 90;
          await draw();
        } catch (error) {
          showError(form, error);
        } finally {
          done();
        }
      });
      const wrap = h("section", { class: "card", id: "tokens", "aria-labelledby": "tokens-title" },
        h("h2", { id: "tokens-title", text: "Personal access tokens" }),
        h("p", { class: "muted", text: "Let a script or an app act for you without your password." }),
        alert, list, shown, form);
      return wrap;
    },
  });
})(window.HT);
