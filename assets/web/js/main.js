// Starts the app: the address a person opened (/, /app or a page), then the page.
"use strict";
(function (HT) {
  const path = window.location.pathname.replace(/\/+$/, "");
  if (!path.startsWith("/app/")) {
    window.history.replaceState({}, "", HT.api.loggedIn() ? "/app/today" : "/app/login");
  }
  const brand = document.querySelector("[data-brand]");
  if (brand && !HT.api.loggedIn()) brand.setAttribute("href", "/app/login");
  HT.router.render(false);
})(window.HT);
