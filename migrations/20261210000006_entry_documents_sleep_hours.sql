-- Every entry document now also carries `sleepHours` (equal to `sleep`): the existing React
-- frontend's history reads that name. Documents are stored rendered (20261128000002), so the ones
-- written before get it here, appended as the last field exactly where `Entry::document_json` now
-- writes it. `->` yields the stored number's own JSON text and `json()` keeps it a number, so the
-- value is copied verbatim (no float re-formatting); an entry without a stored document is rendered
-- whole after the migrations, as before.
UPDATE entries
SET document = json_insert(document, '$.sleepHours', json(document -> '$.sleep'))
WHERE document IS NOT NULL;
