// Two-factor login (/auth/2fa/*): shown when the server documents the route. Setup shows the secret
// and the otpauth link for the authenticator app; the recovery codes are shown once.
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy, status } = HT.forms;

  HT.accountSection({
    order: 25,
    when: () => HT.features.has("/auth/2fa/setup", "post"),
    async render() {
      const me = HT.profile.current();
      const alert = alertBox();
      const body = h("div", {});
      const wrap = h("section", { class: "card", id: "two-factor", "aria-labelledby": "two-factor-title" },
        h("h2", { id: "two-factor-title", text: "Two-step login" }), alert, body);

      const formWith = (fields, label, action) => {
        const submit = h("button", { class: "button", type: "submit", text: label });
        const form = h("form", { novalidate: true }, alertBox(), fields, h("div", { class: "actions" }, submit));
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const done = busy(submit, "Working…");
          try {
            await action(form);
          } catch (error) {
            done();
            showError(form, error);
          }
        });
        return form;
      };

      const showOff = () => body.replaceChildren(
        h("p", { text: "Off. With it on, logging in also asks for a code from an authenticator app." }),
        formWith([field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" })], "Set up two-step login", async (form) => {
          const setup = await HT.api.post("/auth/2fa/setup", { password: form.elements.password.value });
          body.replaceChildren(
            h("p", {}, "Add HealthTracker to your authenticator app: ", h("a", { href: setup.otpauthUrl, text: "open in the app" }), ", or type this secret:"),
            h("p", { class: "secret", text: setup.secret }),
            formWith([field({ name: "code", label: "Code the app shows", inputmode: "numeric", autocomplete: "one-time-code" })], "Turn on", async (confirm) => {
              const enabled = await HT.api.post("/auth/2fa/enable", { code: confirm.elements.code.value.trim() });
              await HT.profile.load(true);
              body.replaceChildren(
                h("div", { class: "alert alert-ok" }, h("p", { text: "Two-step login is on. Keep these recovery codes somewhere safe — each works once, and they are shown only now:" })),
                h("ul", { class: "secret" }, (enabled.recoveryCodes || []).map((c) => h("li", { text: c }))),
                h("button", { type: "button", class: "button secondary", text: "Done", onclick: showOn }));
            }));
        }));

      const showOn = () => body.replaceChildren(
        h("p", { text: "On. Logging in asks for a code from your authenticator app." }),
        formWith([
          field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" }),
          field({ name: "code", label: "Code from your authenticator app", inputmode: "numeric", autocomplete: "one-time-code" }),
        ], "Turn off", async (form) => {
          await HT.api.post("/auth/2fa/disable", { password: form.elements.password.value, code: form.elements.code.value.trim() });
          await HT.profile.load(true);
          status(alert, "Two-step login is off.");
          showOff();
        }));

      if (me.twoFactor) showOn();
      else showOff();
      return wrap;
    },
  });
})(window.HT);
