-- Which format each stored document (20261128000002) was rendered in: a fingerprint of what the
-- server writes for an entry (`DocumentJson::format` in src/domain/entry/mod.rs), derived from the
-- field table, so it changes by itself when a field is added or written differently. Rows whose
-- format differs from the running build's (NULL: every row before this version) get their
-- document rendered again right after the migrations run (`render_stale_documents` in
-- src/storage/sqlite/migrations.rs); reads render one that is still stale (written meanwhile by an
-- older instance on the same file) instead of serving it.
ALTER TABLE entries ADD COLUMN document_format INTEGER;
