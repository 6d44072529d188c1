//! What the trends read: the day figures of a range and the logged days of the streaks, each one
//! indexed find (`{user, date}`) with only the fields they use; and the user's `entriesVersion`,
//! moved on by every write to their entries, which keys the trends kept in memory.

use mongodb::bson::{Document, doc};

use super::MongoStore;
use super::documents::{
    ENTRIES, USERS, day_window, figures_from_doc, figures_projection, logged_day_from_doc, user_oid,
};
use crate::domain::day::Day;
use crate::domain::ids::UserId;
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::storage::StoreResult;

impl MongoStore {
    pub(super) async fn read_day_figures(&self, user: UserId, from: Day, to: Day) -> StoreResult<Vec<DayFigures>> {
        // The first and last possible days bound nothing (the whole history, for the goal streaks):
        // their windows would reach outside the years a date may have.
        let mut range = Document::new();
        if from > Day::MIN {
            range.insert("$gte", day_window(from).0);
        }
        if to < Day::MAX {
            range.insert("$lt", day_window(to).1);
        }
        let mut filter = doc! {"user": user_oid(user)};
        if !range.is_empty() {
            filter.insert("date", range);
        }
        let docs = self.find_sorted_by_date(filter, figures_projection()).await?;
        Ok(one_per_day(docs.iter().filter_map(figures_from_doc), |f| f.day))
    }

    pub(super) async fn read_logged_days(&self, user: UserId) -> StoreResult<Vec<LoggedDay>> {
        let projection = doc! {"_id": 0, "date": 1, "workouts": 1};
        let docs = self
            .find_sorted_by_date(doc! {"user": user_oid(user)}, projection)
            .await?;
        Ok(one_per_day(docs.iter().filter_map(logged_day_from_doc), |d| d.day))
    }

    /// Counts a write to the user's entries (after it landed: a reader that sees the new count
    /// sees the write). A failure is logged, not returned: the write itself succeeded, and a trends
    /// answer kept at the old count is dropped within `TRENDS_MAX_AGE` anyway. `false` when the
    /// user does not exist — the account was deleted while the write was in flight, and the
    /// caller undoes it ([`MongoStore::undo_for_deleted_user`]).
    pub(super) async fn entries_changed(&self, user: UserId) -> bool {
        let bumped = match self.collection(USERS) {
            Ok(users) => users
                .update_one(doc! {"_id": user_oid(user)}, doc! {"$inc": {"entriesVersion": 1_i64}})
                .await
                .map(|done| done.matched_count == 1)
                .map_err(|e| self.fail(e).to_string()),
            Err(e) => Err(e.to_string()),
        };
        bumped.unwrap_or_else(|error| {
            tracing::warn!(user_id = %user, error = %error, "could not count a write to the user's entries");
            true
        })
    }

    /// Every entry document matching `filter`, oldest day first, with only the projected fields.
    async fn find_sorted_by_date(&self, filter: Document, projection: Document) -> StoreResult<Vec<Document>> {
        let entries = self.collection(ENTRIES)?;
        self.all(entries.find(filter).sort(doc! {"date": 1}).projection(projection))
            .await
    }
}

/// The first of each day, from values in day order: a database the old backend wrote before its
/// unique index may hold two documents for one day.
fn one_per_day<T>(values: impl Iterator<Item = T>, day: impl Fn(&T) -> Day) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for value in values {
        if out.last().is_none_or(|last| day(last) != day(&value)) {
            out.push(value);
        }
    }
    out
}
