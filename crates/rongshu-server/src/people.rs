//! The people each read touches, for its audit event's side table: the
//! values of the resource's ID-number items in the rows read, normalised and
//! hashed under the platform's person key, before any masking.
//!
//! A read touches a person whether or not the ID number comes back (the
//! caller chose other fields, or may not see it): the store is asked for the
//! ID-number items as well, and they are taken out again before the rows are
//! shown.

use rongshu_core::people::{People, PersonHash, PersonKey, id_items};
use rongshu_store::{Change, RecordQuery, Resource};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// The name under which the platform keeps the person-hash key.
pub const PERSON_KEY_SECRET: &str = "audit.person_hash";

/// The platform's person key, read once per process.
pub async fn person_key(state: &AppState) -> Result<&PersonKey, ApiError> {
    state
        .person_key
        .get_or_try_init(|| async {
            let secret = state
                .store
                .platform_secret(PERSON_KEY_SECRET, state.clock.now())
                .await?;
            Ok::<_, ApiError>(PersonKey::new(secret))
        })
        .await
}

/// A query as the store runs it for a read: the caller's, with the
/// resource's ID-number items added when the caller did not choose them.
#[derive(Debug, Clone)]
pub struct Widened {
    pub query: RecordQuery,
    id_items: Vec<String>,
    /// Items added for the audit only, taken out before the rows are shown.
    added: Vec<String>,
}

impl Widened {
    pub fn new(resource: &Resource, query: &RecordQuery) -> Self {
        let id_items = id_items(&resource.spec);
        let added: Vec<String> = id_items
            .iter()
            .filter(|i| !query.fields.contains(i))
            .cloned()
            .collect();
        let mut query = query.clone();
        query.fields.extend(added.iter().cloned());
        Self {
            query,
            id_items,
            added,
        }
    }

    /// The people of the rows read, which are then stripped of the added items.
    pub fn people(&self, key: &PersonKey, records: &mut [Map<String, Value>]) -> Vec<PersonHash> {
        let mut people = People::new(key, &self.id_items);
        for record in records.iter_mut() {
            people.add_record(record);
            for item in &self.added {
                record.remove(item);
            }
        }
        people.finish()
    }
}

/// The people of whole records (all items present), e.g. a past batch's rows.
pub fn of_records<'a>(
    key: &PersonKey,
    resource: &Resource,
    records: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Vec<PersonHash> {
    let items = id_items(&resource.spec);
    let mut people = People::new(key, &items);
    for record in records {
        people.add_record(record);
    }
    people.finish()
}

/// The people of changes of the log: in each change's key, its record, and
/// for a deletion the row it deleted (a key need not hold the ID number).
pub fn of_changes(key: &PersonKey, resource: &Resource, changes: &[Change]) -> Vec<PersonHash> {
    let items = id_items(&resource.spec);
    let mut people = People::new(key, &items);
    for change in changes {
        for part in [
            Some(&change.key),
            change.record.as_ref(),
            change.deleted.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Value::Object(map) = part {
                people.add_record(map);
            }
        }
    }
    people.finish()
}
