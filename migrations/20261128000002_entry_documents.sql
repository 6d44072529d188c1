-- Each entry's JSON document (the shape the API returns), rendered whenever the entry is written, so
-- a page of entries is served by concatenating stored text instead of decoding and re-encoding every
-- row. The columns stay the source for queries and for reading an entry back; rows written before
-- this column existed (NULL), or in an older document format (20261203000006), get their document
-- right after the migrations run (`render_stale_documents` in src/storage/sqlite/migrations.rs).
ALTER TABLE entries ADD COLUMN document TEXT;
