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


def _outside_the_years(body) -> bool:
    """An entry `date` given as a timestamp whose day (in UTC, the fuzzing account's zone) is not
    in the years 0001-9999: refused with 400 by contract, a rule about the placed day that JSON
    Schema cannot state (`0001-01-01T00:30:00+01:00` is a valid date-time, on 31 December of year 0).
    """
    import datetime

    date = body.get("date") if isinstance(body, dict) else None
    if not isinstance(date, str) or len(date) <= 10:
        return False
    try:
        datetime.datetime.fromisoformat(date.replace("z", "Z")).astimezone(datetime.timezone.utc)
    except OverflowError:
        return True
    except ValueError:
        return False  # not a timestamp: the API must refuse it, and schemathesis checks that it does
    return False


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _breaks_a_cross_field_rule(value) -> bool:
    """Rules across two fields, which JSON Schema cannot state (the API tests cover their 400s): a
    blood pressure's systolic must be above its diastolic; a goal's min must not be above its max."""
    if isinstance(value, list):
        return any(_breaks_a_cross_field_rule(v) for v in value)
    if not isinstance(value, dict):
        return False
    pressure = value.get("bloodPressure")
    if isinstance(pressure, dict):
        systolic, diastolic = _number(pressure.get("systolic")), _number(pressure.get("diastolic"))
        if systolic is not None and diastolic is not None and systolic <= diastolic:
            return True
    for bounds in value.values():
        if isinstance(bounds, dict) and set(bounds) == {"min", "max"}:
            low, high = _number(bounds["min"]), _number(bounds["max"])
            if low is not None and high is not None and low > high:
                return True
    return any(_breaks_a_cross_field_rule(v) for v in value.values())


def _outside_the_schema(body) -> bool:
    return _holds_markup(body) or _breaks_a_cross_field_rule(body) or _outside_the_years(body)


@schemathesis.hook
def filter_body(ctx, body) -> bool:
    return not _outside_the_schema(body)


# The coverage phase builds its cases without `filter_body`; it runs `filter_case`.
@schemathesis.hook
def filter_case(ctx, case) -> bool:
    return not _outside_the_schema(getattr(case, "body", None))


# `GET /entries/stats` refuses a range that ends before it starts or covers more than 3,660 days
# (400, by contract): a rule across two parameters, which JSON Schema cannot state. Queries that
# break it are skipped here (the API tests cover those 400s); every other schema-valid query must be
# answered 200. A lone `from` runs to today (the fuzzing account's zone is UTC).
MAX_STATS_DAYS = 3660


def _day(value):
    import datetime

    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


@schemathesis.hook
def filter_query(ctx, query) -> bool:
    import datetime

    operation = getattr(ctx, "operation", None)
    if operation is None or not str(getattr(operation, "path", "")).endswith("/entries/stats") or not query:
        return True
    start, end = _day(query.get("from")), _day(query.get("to"))
    if start is None and "from" in query or end is None and "to" in query:
        return True  # a malformed day: the API must refuse it, and schemathesis checks that it does
    end = end or datetime.datetime.now(datetime.timezone.utc).date()
    # A lone `to` in the first days of year 1: the default range starts at 0001-01-01.
    start = start or max(end, datetime.date(1, 1, 28)) - datetime.timedelta(days=27)
    return start <= end and (end - start).days + 1 <= MAX_STATS_DAYS
