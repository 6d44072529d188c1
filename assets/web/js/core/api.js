// The API client: the login's tokens, refreshed before they expire (shared by every tab of the
// browser), and one `request` that turns any answer into data or an ApiError with the API's own
// words. The app uses only the public API under /api.
"use strict";
(function (HT) {
  const BASE = "/api";
  const KEY = "ht.session";
  // Refresh this long before the access token expires (it lives 15 minutes).
  const EARLY_MS = 90 * 1000;

  class ApiError extends Error {
    constructor(status, message, details, body) {
      super(message || "Something went wrong");
      this.status = status;
      this.details = Array.isArray(details) ? details : [];
      this.body = body || null;
    }
  }

  // The login ended (refresh refused): the router sends the person to the login page.
  class SessionEnded extends ApiError {
    constructor(message) {
      super(401, message || "Your session ended — please log in again.");
    }
  }

  function load() {
    try {
      const value = JSON.parse(window.localStorage.getItem(KEY) || "null");
      return value && value.access && value.refresh ? value : null;
    } catch (_) {
      return null;
    }
  }

  let session = load();
  let timer = null;
  let refreshing = null;

  function claims(token) {
    try {
      const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(window.atob(payload));
    } catch (_) {
      return {};
    }
  }

  function expiresAt(token) {
    const exp = claims(token).exp;
    return typeof exp === "number" ? exp * 1000 : 0;
  }

  function store(next) {
    session = next;
    if (next) window.localStorage.setItem(KEY, JSON.stringify(next));
    else window.localStorage.removeItem(KEY);
    schedule();
  }

  // One timer per tab, set to refresh ahead of the access token's expiry.
  function schedule() {
    window.clearTimeout(timer);
    if (!session) return;
    const wait = Math.max(expiresAt(session.access) - Date.now() - EARLY_MS, 1000);
    timer = window.setTimeout(() => { refresh().catch(() => {}); }, wait);
  }

  // Another tab logged in, refreshed or logged out: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key !== KEY) return;
    const had = Boolean(session);
    session = load();
    schedule();
    if (had && !session && HT.router) HT.router.sessionEnded("You logged out in another window.");
  });

  // Timers sleep with the tab: a tab brought back checks at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session && expiresAt(session.access) - Date.now() < EARLY_MS) {
      refresh().catch(() => {});
    }
  });

  // Runs `task` while holding the browser-wide refresh lock where the browser has one, so two tabs
  // never rotate the same refresh token (the second would look like token theft to the server).
  function withLock(task) {
    if (navigator.locks && navigator.locks.request) return navigator.locks.request("ht-refresh", task);
    return task();
  }

  function refresh() {
    if (refreshing) return refreshing;
    refreshing = withLock(async () => {
      const stored = load();
      if (!stored) {
        store(null);
        throw new SessionEnded();
      }
      // Another tab may have refreshed while this one waited for the lock.
      if (expiresAt(stored.access) - Date.now() > EARLY_MS) {
        session = stored;
        schedule();
        return;
      }
      let response;
      try {
        response = await fetch(`${BASE}/auth/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ refreshToken: stored.refresh }),
          credentials: "omit",
        });
      } catch (_) {
        // Offline: keep the login and try again in a while.
        timer = window.setTimeout(() => { refresh().catch(() => {}); }, 15000);
        throw new ApiError(0, "Cannot reach the server — check your connection and try again.");
      }
      if (response.status === 401 || response.status === 400) {
        store(null);
        throw new SessionEnded();
      }
      const body = await readJson(response);
      if (!response.ok) throw new ApiError(response.status, body && body.message, body && body.details, body);
      store({ ...stored, access: body.accessToken, refresh: body.refreshToken });
    }).finally(() => { refreshing = null; });
    return refreshing;
  }

  async function readJson(response) {
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return { message: text.slice(0, 200) };
    }
  }

  function url(path, query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const qs = params.toString();
    return `${BASE}${path}${qs ? `?${qs}` : ""}`;
  }

  function send(method, path, options, token) {
    const headers = { accept: options.accept || "application/json" };
    let body;
    if (options.body instanceof Blob) {
      body = options.body;
      headers["content-type"] = options.contentType || options.body.type || "application/octet-stream";
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(url(path, options.query), { method, headers, body, credentials: "omit", signal: options.signal });
  }

  // The login ended: clear it and send the person to the login page, with where they were.
  function ended(message) {
    store(null);
    if (HT.router) HT.router.sessionEnded(message);
  }

  // A request as the logged-in person. Resolves to the parsed body (or the Response itself with
  // `raw: true`, for downloads and streams); rejects with an ApiError whose message is the API's.
  async function request(method, path, options = {}) {
    if (!session) {
      ended();
      throw new SessionEnded();
    }
    if (expiresAt(session.access) - Date.now() < 30 * 1000) {
      try {
        await refresh();
      } catch (error) {
        if (error instanceof SessionEnded) ended();
        throw error;
      }
    }
    let response;
    try {
      response = await send(method, path, options, session.access);
      if (response.status === 401) {
        // Revoked or expired early (a password change elsewhere, the clock): one refresh, one retry.
        try {
          await refresh();
        } catch (error) {
          if (error instanceof SessionEnded) ended();
          throw error;
        }
        response = await send(method, path, options, session.access);
        if (response.status === 401) {
          ended();
          throw new SessionEnded();
        }
      }
    } catch (error) {
      if (error instanceof ApiError || (error && error.name === "AbortError")) throw error;
      throw new ApiError(0, "Cannot reach the server — check your connection and try again.");
    }
    if (options.raw && response.ok) return response;
    const body = await readJson(response);
    if (!response.ok) throw new ApiError(response.status, body && body.message, body && body.details, body);
    return body;
  }

  // Requests that need no login (register, login, its second step).
  async function open(method, path, body) {
    let response;
    try {
      response = await send(method, path, { body });
    } catch (_) {
      throw new ApiError(0, "Cannot reach the server — check your connection and try again.");
    }
    const parsed = await readJson(response);
    if (!response.ok) throw new ApiError(response.status, parsed && parsed.message, parsed && parsed.details, parsed);
    return parsed;
  }

  // Reads a text/event-stream answer, calling onEvent(name, data) for each event.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let split;
      while ((split = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split).replace(/^\r?\n\r?\n/, "");
        let name = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) {
          let parsed = data.join("\n");
          try { parsed = JSON.parse(parsed); } catch (_) { /* plain text */ }
          onEvent(name, parsed);
        }
      }
      if (done) return;
    }
  }

  HT.ApiError = ApiError;
  HT.SessionEnded = SessionEnded;
  HT.api = {
    request,
    open,
    readEvents,
    get: (path, query) => request("GET", path, { query }),
    post: (path, body, query) => request("POST", path, { body, query }),
    put: (path, body) => request("PUT", path, { body }),
    patch: (path, body) => request("PATCH", path, { body }),
    del: (path, body) => request("DELETE", path, { body }),
    loggedIn: () => Boolean(session),
    user: () => (session && session.user) || null,
    // After register, login, its second step or a password change.
    begin(body, user) {
      store({ access: body.accessToken || body.token, refresh: body.refreshToken, user: user || body.user || (session && session.user) || null });
    },
    setUser(user) {
      if (session) store({ ...session, user });
    },
    refreshToken: () => (session ? session.refresh : null),
    // Ends the login here and forgets it, whatever the server says.
    async logout(everywhere) {
      if (session) {
        try {
          if (everywhere) await request("POST", "/auth/logout-all", {});
          else await request("POST", "/auth/logout", { body: { refreshToken: session.refresh } });
        } catch (_) { /* gone already */ }
      }
      store(null);
    },
    forget: () => store(null),
  };
  schedule();
})(window.HT);
