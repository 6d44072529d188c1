//! Entries on a day outside the years 0001–9999. None can be written any more (every day that
//! enters is checked), but an older version let them in (`0000-01-01T00:30:00+01:00` became day
//! -0001-12-31). Every read serves them as they are; `healthtracker migrate` lists them so a person
//! can move each to its real day or delete it — which is right is not the server's call.

/// One such entry, as its store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryOutsideTheYears {
    pub entry: String,
    pub user: String,
    /// `YYYY-MM-DD` with a signed year where it has one (`-0001-12-31`, `+10000-01-01`).
    pub day: String,
}

/// Logs each of them, then how many (`migrate` still succeeds: they are served, not in the way).
pub fn report(entries: &[EntryOutsideTheYears]) {
    for found in entries {
        tracing::warn!(
            entry_id = %found.entry,
            user_id = %found.user,
            day = %found.day,
            "entry on a day outside 0001-01-01..9999-12-31, stored by an older version: move it to its real day \
             (PUT /api/entries/{{id}} with a date) or delete it"
        );
    }
    if !entries.is_empty() {
        tracing::warn!(
            count = entries.len(),
            "entries on days outside the years 0001-9999 (listed above); they are served as they are"
        );
    }
}
