// What this server offers, read from its own OpenAPI document (public, generated from the routes):
// a section for goals, personal tokens, two-factor login or device imports appears when the server
// has the route, so the same app works before and after those features land. Also the person's
// profile (their time zone decides what "today" is).
"use strict";
(function (HT) {
  let documentPromise = null;

  function loadDocument() {
    if (!documentPromise) {
      documentPromise = fetch("/api/openapi.json", { headers: { accept: "application/json" }, credentials: "omit" })
        .then((r) => (r.ok ? r.json() : {}))
        .catch(() => ({}));
    }
    return documentPromise;
  }

  HT.features = {
    load: loadDocument,
    // Whether the server has `method path` (a path as the document writes it: `/goals`).
    async has(path, method = "get") {
      const doc = await loadDocument();
      return Boolean(doc.paths && doc.paths[path] && doc.paths[path][method]);
    },
    // A request body's schema (`EntryInput`, `RegisterRequest`…), or null.
    async schema(name) {
      const doc = await loadDocument();
      return (doc.components && doc.components.schemas && doc.components.schemas[name]) || null;
    },
    // Whether entries take `field` (the body measurements arrive with their own issue).
    async entryField(field) {
      const schema = await HT.features.schema("EntryInput");
      return Boolean(schema && schema.properties && schema.properties[field]);
    },
    // The values a query parameter documents (export formats, say).
    async parameterValues(path, name) {
      const doc = await loadDocument();
      const op = doc.paths && doc.paths[path] && doc.paths[path].get;
      const param = op && (op.parameters || []).find((p) => p.name === name);
      const schema = param && param.schema;
      const values = schema && (schema.enum || (schema.oneOf || schema.anyOf || []).flatMap((s) => s.enum || []));
      return values && values.length ? values : null;
    },
    // The time zone names the server accepts (its profile schema lists them), else the browser's.
    async timeZones() {
      const schema = await HT.features.schema("ProfileUpdate");
      const tz = schema && schema.properties && schema.properties.timezone;
      const options = tz && (tz.enum || (tz.anyOf || []).flatMap((s) => s.enum || []).filter((v) => v));
      if (options && options.length) return options;
      return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
    },
  };

  // The logged-in person's profile, read once per login (and after they change it).
  let me = null;
  HT.profile = {
    async load(force) {
      if (!me || force) {
        const body = await HT.api.get("/auth/me");
        me = body.user;
        HT.api.setUser({ id: me.id, name: me.name, email: me.email });
      }
      return me;
    },
    current: () => me,
    set(user) {
      me = user;
    },
    clear() {
      me = null;
    },
    timezone() {
      return (me && me.timezone) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    },
  };
})(window.HT);
