//! Facts a registry derives from a key rather than from any department:
//! age, sex and birth division from an ID number; entity type, registering
//! authority and division from a USCC.

use chrono::NaiveDate;
use serde::Serialize;

use crate::ident::{CitizenId, Uscc};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonFacts {
    pub age: u32,
    pub sex: &'static str,
    pub birth_date: String,
    pub birth_division: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityFacts {
    pub entity_type: &'static str,
    pub registering_authority: &'static str,
    pub division: String,
    /// The organisation code embedded in it (GB 11714), when it is a real one.
    pub org_code: Option<String>,
    /// An early pilot code whose check character is wrong.
    pub legacy_checksum: bool,
}

pub fn person_facts(id: &CitizenId, today: NaiveDate) -> PersonFacts {
    PersonFacts {
        age: id.age_on(today),
        sex: id.sex().as_str(),
        birth_date: id.birth_date().format("%Y-%m-%d").to_string(),
        birth_division: id.division().to_string(),
    }
}

pub fn entity_facts(code: &Uscc) -> EntityFacts {
    EntityFacts {
        entity_type: code.entity_type().name,
        registering_authority: code.authority().name,
        division: code.division_str().to_owned(),
        org_code: code.org_code().map(|o| o.compact().to_owned()),
        legacy_checksum: code.has_legacy_checksum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_keys() {
        let id = CitizenId::parse("11010519491231002X").expect("valid");
        let today = NaiveDate::from_ymd_opt(2024, 6, 30).expect("date");
        let f = person_facts(&id, today);
        assert_eq!(f.age, 74);
        assert_eq!(f.birth_date, "1949-12-31");
        assert_eq!(f.birth_division, "110105");
        let code = Uscc::parse("91350100M000100Y43").expect("valid");
        let e = entity_facts(&code);
        assert_eq!(e.division, "350100");
        assert!(!e.legacy_checksum);
    }
}
