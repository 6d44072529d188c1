// Log in (with the two-factor step when the account has it), register (the password rules shown
// before submitting), and the page for an address the app does not have.
"use strict";
(function (HT) {
  const { h } = HT;
  const { field, alertBox, showError, busy } = HT.forms;

  // Where to go after logging in: the page the person was sent away from, if it is one of ours.
  function nextPath(params) {
    const next = params.get("next") || "";
    return next.startsWith("/app/") && !next.startsWith("/app/login") && !next.startsWith("/app/register") ? next : "/app/today";
  }

  function flashBox(ctx) {
    return ctx.flash ? h("div", { class: "alert alert-info", role: "status" }, h("p", { text: ctx.flash })) : null;
  }

  HT.page("login", {
    title: "Log in",
    auth: false,
    guestOnly: true,
    render(ctx) {
      const alert = alertBox();
      const email = field({ name: "email", label: "Email", type: "email", autocomplete: "username", required: true, inputmode: "email" });
      const password = field({ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true });
      const submit = h("button", { class: "button", type: "submit", text: "Log in" });
      const box = h("div", { class: "card" });
      const form = h("form", { novalidate: true }, alert, email, password, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        HT.forms.clearErrors(form);
        const done = busy(submit, "Logging in…");
        try {
          const body = await HT.api.open("POST", "/auth/login", {
            email: form.elements.email.value.trim(),
            password: form.elements.password.value,
          });
          if (body.twoFactorRequired) {
            done();
            box.replaceChildren(secondStep(ctx, body.challengeToken));
            box.querySelector("input").focus();
            return;
          }
          await loggedIn(ctx, body);
        } catch (error) {
          done();
          showError(form, error);
        }
      });
      box.append(form);
      return h("div", { class: "auth" },
        h("h1", { text: "Log in" }),
        flashBox(ctx),
        box,
        h("p", {}, "New here? ", h("a", { href: `/app/register${ctx.params.get("next") ? `?next=${encodeURIComponent(ctx.params.get("next"))}` : ""}`, text: "Create an account" })));
    },
  });

  // The code from the authenticator app (or a recovery code) after the password.
  function secondStep(ctx, challengeToken) {
    const alert = alertBox();
    let recovery = false;
    const codeField = () => recovery
      ? field({ name: "recoveryCode", label: "Recovery code", autocomplete: "one-time-code", required: true })
      : field({ name: "code", label: "Code from your authenticator app", inputmode: "numeric", autocomplete: "one-time-code", required: true, hint: "6 digits" });
    let current = codeField();
    const submit = h("button", { class: "button", type: "submit", text: "Verify" });
    const toggle = h("button", {
      class: "link-button",
      type: "button",
      text: "Use a recovery code instead",
      onclick: () => {
        recovery = !recovery;
        const next = codeField();
        current.replaceWith(next);
        current = next;
        toggle.textContent = recovery ? "Use a code from the app instead" : "Use a recovery code instead";
        next.querySelector("input").focus();
      },
    });
    const form = h("form", { novalidate: true }, h("h2", { text: "Two-step verification" }), alert, current, h("div", { class: "actions" }, submit, toggle));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const done = busy(submit, "Verifying…");
      const input = current.querySelector("input");
      const payload = { challengeToken };
      payload[input.name] = input.value.trim();
      try {
        await loggedIn(ctx, await HT.api.open("POST", "/auth/login/2fa", payload));
      } catch (error) {
        done();
        showError(form, error);
      }
    });
    return form;
  }

  async function loggedIn(ctx, body) {
    HT.api.begin(body, body.user);
    await HT.profile.load(true);
    ctx.navigate(nextPath(ctx.params), { replace: true });
  }

  // The registration rules of API.md, checked as the person types (the server has the last word:
  // it also refuses passwords that are easy to guess).
  const PASSWORD_RULES = [
    { text: "6 to 128 characters", test: (p) => [...p].length >= 6 && [...p].length <= 128 },
    {
      text: "an upper-case letter, a lower-case letter and a digit — or a passphrase of 12 or more characters",
      test: (p) => (/\p{Lu}/u.test(p) && /\p{Ll}/u.test(p) && /[0-9]/.test(p)) || [...p].length >= 12,
    },
    { text: "not a common password, word, name or pattern (checked when you submit)", test: null },
  ];

  HT.passwordRules = function (input) {
    const items = PASSWORD_RULES.map((rule) => h("li", { text: rule.text }));
    const list = h("ul", { class: "rules", "aria-label": "Password rules" }, items);
    const update = () => PASSWORD_RULES.forEach((rule, i) => {
      const met = rule.test ? rule.test(input.value) : false;
      items[i].classList.toggle("met", met);
    });
    input.addEventListener("input", update);
    return list;
  };

  HT.page("register", {
    title: "Create an account",
    auth: false,
    guestOnly: true,
    async render(ctx) {
      const alert = alertBox();
      const name = field({ name: "name", label: "Your name", autocomplete: "name", required: true, maxlength: 100 });
      const email = field({ name: "email", label: "Email", type: "email", autocomplete: "email", required: true, inputmode: "email" });
      const password = field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", required: true });
      const pwInput = password.querySelector("input");
      const rulesId = HT.uid("rules");
      const rules = HT.passwordRules(pwInput);
      rules.id = rulesId;
      pwInput.setAttribute("aria-describedby", `${pwInput.getAttribute("aria-describedby")} ${rulesId}`);
      password.insertBefore(rules, password.querySelector(".error"));
      // An installation that registers by invitation documents the code field.
      const schema = await HT.features.schema("RegisterRequest");
      const invite = schema && schema.properties && schema.properties.inviteCode
        ? field({ name: "inviteCode", label: "Invite code", hint: "Needed when this server registers by invitation only" })
        : null;
      const submit = h("button", { class: "button", type: "submit", text: "Create account" });
      const form = h("form", { novalidate: true }, alert, name, email, password, invite, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        HT.forms.clearErrors(form);
        const done = busy(submit, "Creating your account…");
        const payload = {
          name: form.elements.name.value.trim(),
          email: form.elements.email.value.trim(),
          password: form.elements.password.value,
        };
        if (invite && form.elements.inviteCode.value.trim()) payload.inviteCode = form.elements.inviteCode.value.trim();
        try {
          const body = await HT.api.open("POST", "/auth/register", payload);
          HT.router.flash(`Welcome, ${body.user ? body.user.name : payload.name}! Log your first day to get started.`);
          await loggedIn(ctx, body);
        } catch (error) {
          done();
          showError(form, error);
        }
      });
      return h("div", { class: "auth" },
        h("h1", { text: "Create an account" }),
        h("p", { class: "subtitle", text: "Track your days, see your trends, and talk to your coach." }),
        h("div", { class: "card" }, form),
        h("p", {}, "Already have an account? ", h("a", { href: "/app/login", text: "Log in" })));
    },
  });

  HT.page("not-found", {
    title: "Page not found",
    auth: false,
    render() {
      return h("div", {},
        h("h1", { text: "Page not found" }),
        h("p", {}, "There is no page at this address. ", h("a", { href: "/app/today", text: "Go to today" }), "."));
    },
  });
})(window.HT);
