//! The people a read touched, named by a keyed hash of their citizen ID
//! numbers: enough to find every read of one person's data (the citizen's
//! access log) without the audit log holding a single ID number in plain.
//!
//! The hash is HMAC-SHA256 under a platform secret, so someone holding a copy
//! of the audit tables cannot test guessed ID numbers against it (the ID
//! space is small enough to enumerate), cut to 128 bits: ample against
//! collisions among a city's people, and half the index of a full digest.

use std::collections::BTreeSet;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::catalog::ResourceSpec;
use crate::ident::CitizenId;
use crate::kind::ItemKind;

/// Bytes of the HMAC kept.
const HASH_BYTES: usize = 16;
/// Separates this use of the key from any other it might be put to.
const CONTEXT: &[u8] = b"rongshu.person\n";

/// The secret key of person hashes. Its `Debug` does not show it.
#[derive(Clone)]
pub struct PersonKey(Vec<u8>);

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonKey(…)")
    }
}

impl PersonKey {
    pub fn new(secret: Vec<u8>) -> Self {
        Self(secret)
    }

    /// The hash of a checked ID number (its 18-character form, so the old
    /// 15-digit form and a lower-case x name the same person).
    pub fn of(&self, id: &CitizenId) -> PersonHash {
        // HMAC takes a key of any length: `new_from_slice` does not fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return PersonHash(String::new());
        };
        mac.update(CONTEXT);
        mac.update(id.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        PersonHash(hex::encode(&digest[..HASH_BYTES]))
    }

    /// The hash of an ID number as a resource stores it, if it is one. A
    /// value that is not a valid ID number names no one who could sign in to
    /// ask for their reads, so it is left out.
    pub fn of_stored(&self, raw: &str) -> Option<PersonHash> {
        CitizenId::parse(raw).ok().map(|id| self.of(&id))
    }
}

/// A person as the audit log names them: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonHash(String);

impl PersonHash {
    /// A hash read back from storage; `None` when it is not of the shape
    /// this module makes.
    pub fn parse(stored: &str) -> Option<Self> {
        let ok = stored.len() == HASH_BYTES * 2
            && stored
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(stored.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys of a resource's items that hold citizen ID numbers: their values
/// say whose a row is (a subject, a spouse, a legal representative alike).
pub fn id_items(spec: &ResourceSpec) -> Vec<String> {
    spec.items
        .iter()
        .filter(|i| i.kind == Some(ItemKind::CitizenId))
        .map(|i| i.key.to_string())
        .collect()
}

/// Gathers the people of the rows a read returns, each once.
#[derive(Debug)]
pub struct People<'a> {
    key: &'a PersonKey,
    items: &'a [String],
    found: BTreeSet<PersonHash>,
}

impl<'a> People<'a> {
    /// `items`: the ID-number items to look in (see [`id_items`]).
    pub fn new(key: &'a PersonKey, items: &'a [String]) -> Self {
        Self {
            key,
            items,
            found: BTreeSet::new(),
        }
    }

    /// Add the people of one record, as stored (before any masking).
    pub fn add_record(&mut self, record: &Map<String, Value>) {
        for item in self.items {
            if let Some(Value::String(raw)) = record.get(item) {
                self.add_value(raw);
            }
        }
    }

    /// Add the person an ID number names, if it is one.
    pub fn add_value(&mut self, raw: &str) {
        if let Some(hash) = self.key.of_stored(raw) {
            self.found.insert(hash);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The people found, in a stable order.
    pub fn finish(self) -> Vec<PersonHash> {
        self.found.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::citizen_id::check_char;
    use serde_json::json;

    fn id(seq: u32) -> String {
        let first17 = format!("51010419800101{seq:03}");
        format!("{first17}{}", check_char(&first17).unwrap())
    }

    fn key() -> PersonKey {
        PersonKey::new(b"a platform secret".to_vec())
    }

    #[test]
    fn one_person_one_hash_whatever_the_spelling() {
        let k = key();
        let a = k.of_stored(&id(1)).unwrap();
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(Some(&a), k.of_stored(&format!("  {} ", id(1))).as_ref());
        assert_ne!(Some(a.clone()), k.of_stored(&id(2)));
        assert_eq!(PersonHash::parse(a.as_str()), Some(a.clone()));
        // An ID number ending in X reads the same in lower case.
        let with_x = (0..200)
            .map(id)
            .find(|s| s.ends_with('X'))
            .expect("some check character is X");
        assert_eq!(
            k.of_stored(&with_x),
            k.of_stored(&with_x.to_ascii_lowercase())
        );
    }

    #[test]
    fn the_hash_depends_on_the_key_and_shows_no_digits_of_the_number() {
        let other = PersonKey::new(b"another secret".to_vec());
        let a = key().of_stored(&id(1)).unwrap();
        assert_ne!(Some(a.clone()), other.of_stored(&id(1)));
        assert!(!a.as_str().contains("510104"));
        assert_eq!(format!("{:?}", key()), "PersonKey(…)");
    }

    #[test]
    fn junk_names_no_one() {
        let k = key();
        assert_eq!(k.of_stored(""), None);
        assert_eq!(k.of_stored("not an id"), None);
        // A wrong check character.
        let mut bad = id(1);
        bad.pop();
        bad.push(if id(1).ends_with('0') { '1' } else { '0' });
        assert_eq!(k.of_stored(&bad), None);
        assert_eq!(PersonHash::parse("XYZ"), None);
        assert_eq!(PersonHash::parse(&"A".repeat(32)), None);
    }

    #[test]
    fn people_are_gathered_once_from_every_id_item() {
        let k = key();
        let items = vec!["id_number".to_owned(), "spouse_id".to_owned()];
        let mut people = People::new(&k, &items);
        assert!(people.is_empty());
        let rows = [
            json!({"id_number": id(1), "spouse_id": id(2), "name": id(9)}),
            json!({"id_number": id(1), "spouse_id": null}),
            json!({"id_number": "", "spouse_id": id(3)}),
        ];
        for row in &rows {
            people.add_record(row.as_object().unwrap());
        }
        let found = people.finish();
        let mut expected: Vec<PersonHash> = [1, 2, 3]
            .into_iter()
            .filter_map(|n| k.of_stored(&id(n)))
            .collect();
        expected.sort();
        // Only ID items count: the `name` that happens to hold an ID does not.
        assert_eq!(found, expected);
    }
}
