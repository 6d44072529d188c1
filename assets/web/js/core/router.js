// Pages and navigation. A page registers itself with HT.page(name, {...}); its address is
// /app/<name>, its nav entry (when it has one) is built from `nav`, and `render(main, ctx)` draws it.
// A feature that arrives later is one more page file and its nav entry, or one more section in an
// existing page. Navigation moves focus to the new page's heading and announces its title.
"use strict";
(function (HT) {
  const { h } = HT;
  const pages = {};
  let current = null;
  let renderId = 0;

  HT.page = function (name, spec) {
    pages[name] = { name, auth: true, ...spec };
  };

  function pageFor(pathname) {
    const name = pathname.replace(/^\/app\/?/, "").replace(/\/.*$/, "") || (HT.api.loggedIn() ? "today" : "login");
    return pages[name] || pages["not-found"];
  }

  function navigate(to, { replace = false } = {}) {
    if (replace) window.history.replaceState({}, "", to);
    else window.history.pushState({}, "", to);
    render(true);
  }

  // The login ended (refresh refused, logged out elsewhere): to the login page with a message, and
  // back to where the person was after they log in.
  function sessionEnded(message) {
    HT.profile.clear();
    const here = window.location.pathname + window.location.search;
    if (pageFor(window.location.pathname).auth === false) return;
    window.sessionStorage.setItem("ht.flash", message || "Your session ended — please log in again.");
    navigate(`/app/login?next=${encodeURIComponent(here)}`, { replace: true });
  }

  // A message for the next page (set before navigating away).
  function flash(message) {
    window.sessionStorage.setItem("ht.flash", message);
  }

  function takeFlash() {
    const message = window.sessionStorage.getItem("ht.flash");
    window.sessionStorage.removeItem("ht.flash");
    return message;
  }

  function drawNav(active) {
    const nav = document.getElementById("site-nav");
    if (!HT.api.loggedIn()) {
      nav.hidden = true;
      nav.replaceChildren();
      return;
    }
    const entries = Object.values(pages).filter((p) => p.nav).sort((a, b) => a.nav.order - b.nav.order);
    nav.hidden = false;
    nav.replaceChildren(h("ul", {},
      entries.map((p) => h("li", {}, h("a", { href: `/app/${p.name}`, "aria-current": p.name === active ? "page" : null, text: p.nav.label }))),
      h("li", { class: "nav-end" }, h("button", {
        type: "button",
        text: "Log out",
        onclick: async () => {
          await HT.api.logout(false);
          HT.profile.clear();
          flash("You are logged out.");
          navigate("/app/login");
        },
      }))));
  }

  async function render(moveFocus) {
    const id = ++renderId;
    const page = pageFor(window.location.pathname);
    const params = new URLSearchParams(window.location.search);
    const main = document.getElementById("main");
    if (page.auth && !HT.api.loggedIn()) {
      const here = window.location.pathname + window.location.search;
      window.history.replaceState({}, "", `/app/login?next=${encodeURIComponent(here)}`);
      return render(moveFocus);
    }
    if (page.auth === false && page.name !== "not-found" && HT.api.loggedIn() && page.guestOnly) {
      window.history.replaceState({}, "", "/app/today");
      return render(moveFocus);
    }
    current = page;
    drawNav(page.nav ? page.name : page.navAs || null);
    document.title = `${page.title} · HealthTracker`;
    main.replaceChildren(h("p", { class: "loading", role: "status", text: "Loading…" }));
    main.setAttribute("aria-busy", "true");
    const context = {
      params,
      flash: takeFlash(),
      // Whether this render is still the one on screen (a slow request must not draw over a newer page).
      live: () => id === renderId,
      navigate,
    };
    try {
      if (page.auth) await HT.profile.load();
      const content = await page.render(context);
      if (!context.live()) return;
      main.replaceChildren(content);
    } catch (error) {
      if (!context.live()) return;
      if (error instanceof HT.SessionEnded) return;
      main.replaceChildren(h("h1", { tabindex: "-1", text: page.title }),
        h("div", { class: "alert alert-error", role: "alert" },
          h("p", { text: error.message || "This page could not be loaded." }),
          h("p", {}, h("button", { class: "button secondary small", type: "button", text: "Try again", onclick: () => render(true) }))));
    } finally {
      if (context.live()) main.removeAttribute("aria-busy");
    }
    if (!context.live()) return;
    if (moveFocus) {
      // To the part of the page the address names (/app/coach#weekly-report), else its heading.
      const part = window.location.hash && document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
      const target = part || main.querySelector("h1");
      if (target) {
        target.setAttribute("tabindex", "-1");
        target.focus({ preventScroll: true });
      }
      if (part) part.scrollIntoView({ block: "start" });
      else window.scrollTo(0, 0);
      HT.announce(document.title);
    }
  }

  // Same-origin links into the app navigate without reloading.
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const target = new URL(link.href, window.location.href);
    if (target.origin !== window.location.origin || !target.pathname.startsWith("/app")) return;
    // A link to a part of this same page: the browser scrolls to it.
    if (target.pathname === window.location.pathname && target.search === window.location.search && target.hash) return;
    event.preventDefault();
    navigate(target.pathname + target.search + target.hash);
  });
  window.addEventListener("popstate", () => render(true));

  HT.router = { navigate, render, sessionEnded, flash, current: () => current };
})(window.HT);
