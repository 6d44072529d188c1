"""Schemathesis hooks for scripts/fuzz-api.

Free text (names, foods, symptoms, notes, chat messages) is length-checked *after* sanitizing: markup is
removed and entities decoded, so `"<p>"` or `"&nbsp;"` is empty text and refused with 400, as API.md
says. JSON Schema cannot describe "at least one character once HTML is stripped"; the documented
patterns describe the text exactly whenever it holds no `<` or `&`. Generated bodies whose strings hold
either are therefore skipped here, so every remaining schema-valid body must be accepted and every
schema-invalid one refused. Sanitizing itself is covered by the API tests (tests/api/entries.rs,
tests/api/auth.rs, tests/api/ai.rs) and the unit tests in src/domain/text.rs.
"""

import schemathesis

MARKUP = ("<", "&")


def _holds_markup(value) -> bool:
    if isinstance(value, str):
        return any(mark in value for mark in MARKUP)
    if isinstance(value, dict):
        return any(_holds_markup(k) or _holds_markup(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_markup(v) for v in value)
    return False


@schemathesis.hook
def filter_body(ctx, body) -> bool:
    return not _holds_markup(body)
