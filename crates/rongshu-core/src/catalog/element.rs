//! Data elements (数据元) and "one data, one source" (一数一源): each element,
//! such as `person.name`, has exactly one authoritative provider department.
//! Items in the catalog point to elements; the authoritative provider's items
//! carry the value of record, anyone else's are witnesses (evidence for
//! verification).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::ResourceSpec;
use super::types::ItemKey;
use crate::account::DepartmentCode;

/// An element's code: dotted lower-case identifiers, a subject then a name
/// (`person.birth_date`, `entity.legal_representative_id`). Stable, since
/// catalog items point to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ElementCode(String);

impl ElementCode {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ElementError> {
        if raw.len() > Self::MAX_LEN {
            return Err(ElementError::CodeTooLong { max: Self::MAX_LEN });
        }
        let part_ok = |part: &str| {
            part.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if raw.contains('.') && raw.split('.').all(part_ok) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ElementError::BadCode(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the element describes: `person` for `person.name`.
    pub fn subject(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl fmt::Display for ElementCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ElementCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ElementCode::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Why an element declaration was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementError {
    #[error(
        "code: \"{0}\" is not a data element code: use lower-case words joined by dots, a subject first, such as person.name"
    )]
    BadCode(String),
    #[error("code: at most {max} characters")]
    CodeTooLong { max: usize },
    #[error("name: a data element needs a name (中文名称)")]
    MissingName,
    #[error("{field}: at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("authority: name the department that is the element's authoritative source")]
    MissingAuthority,
    #[error("authority: {0}")]
    BadAuthority(String),
}

/// An element declaration as a client sends it, before it is checked. The
/// code comes from the body on creation and from the path on update.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewElementRequest {
    pub code: Option<String>,
    pub name: Option<String>,
    pub name_en: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The authoritative provider's department code.
    pub authority: Option<String>,
}

/// A checked element declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementSpec {
    pub code: ElementCode,
    /// The Chinese name, as the catalog's users say it.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub authority: DepartmentCode,
}

pub const MAX_ELEMENT_NAME_CHARS: usize = 100;
pub const MAX_ELEMENT_DESCRIPTION_CHARS: usize = 2000;

fn text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), ElementError> {
    if value.chars().count() > max {
        return Err(ElementError::TooLong { field, max });
    }
    Ok(())
}

impl ElementSpec {
    pub fn parse(req: NewElementRequest) -> Result<Self, ElementError> {
        let raw_code = text(req.code).unwrap_or_default();
        let code = ElementCode::parse(&raw_code)?;
        let name = text(req.name).ok_or(ElementError::MissingName)?;
        bounded("name", &name, MAX_ELEMENT_NAME_CHARS)?;
        let name_en = text(req.name_en);
        if let Some(n) = &name_en {
            bounded("name_en", n, MAX_ELEMENT_NAME_CHARS)?;
        }
        let description = req.description.trim().to_owned();
        bounded("description", &description, MAX_ELEMENT_DESCRIPTION_CHARS)?;
        let authority = text(req.authority).ok_or(ElementError::MissingAuthority)?;
        let authority = DepartmentCode::parse(&authority).map_err(ElementError::BadAuthority)?;
        Ok(Self {
            code,
            name,
            name_en,
            description,
            authority,
        })
    }
}

/// One item of a resource that carries an element, and whether its values are
/// of record (the resource's provider is the element's authority) or a witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemStanding {
    pub item: ItemKey,
    pub element: ElementCode,
    pub authoritative: bool,
}

/// The standing of every item of `spec` that names an element, for a resource
/// provided by `provider`. `authority_of` gives an element's authoritative
/// department; an element it does not know (not registered) has no authority,
/// so its items are witnesses.
pub fn item_standings<'a>(
    spec: &ResourceSpec,
    provider: &str,
    authority_of: impl Fn(&ElementCode) -> Option<&'a str>,
) -> Vec<ItemStanding> {
    spec.items
        .iter()
        .filter_map(|item| {
            let element = item.element.clone()?;
            let authoritative = authority_of(&element) == Some(provider);
            Some(ItemStanding {
                item: item.key.clone(),
                element,
                authoritative,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> NewElementRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn codes_are_dotted_lower_case_words() {
        for good in [
            "person.name",
            "entity.legal_representative_id",
            "a.b.c",
            "x1.y_2",
        ] {
            assert_eq!(ElementCode::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "person",
            "person.",
            ".name",
            "Person.name",
            "person.Name",
            "person..name",
            "person.1name",
            "person._name",
            "person name",
            "person-x.name",
            "人.名",
        ] {
            assert!(
                matches!(ElementCode::parse(bad), Err(ElementError::BadCode(_))),
                "{bad}"
            );
        }
        let long = format!("person.{}", "a".repeat(ElementCode::MAX_LEN));
        assert!(matches!(
            ElementCode::parse(&long),
            Err(ElementError::CodeTooLong { .. })
        ));
        assert_eq!(
            ElementCode::parse("person.name").unwrap().subject(),
            "person"
        );
    }

    #[test]
    fn a_declaration_needs_a_code_a_name_and_an_authority() {
        let spec = ElementSpec::parse(request(serde_json::json!({
            "code": " person.name ", "name": "姓名", "name_en": "Name", "authority": "gaj"
        })))
        .unwrap();
        assert_eq!(spec.code.as_str(), "person.name");
        assert_eq!(spec.authority.as_str(), "gaj");
        assert_eq!(spec.name_en.as_deref(), Some("Name"));
        let cases = [
            (
                serde_json::json!({"name": "姓名", "authority": "gaj"}),
                "code",
            ),
            (
                serde_json::json!({"code": "person.name", "authority": "gaj"}),
                "name",
            ),
            (
                serde_json::json!({"code": "person.name", "name": "姓名"}),
                "authority",
            ),
            (
                serde_json::json!({"code": "person.name", "name": "姓名", "authority": "公安局"}),
                "authority",
            ),
            (
                serde_json::json!({"code": "person.name", "name": "名".repeat(101), "authority": "gaj"}),
                "name",
            ),
        ];
        for (json, field) in cases {
            let e = ElementSpec::parse(request(json.clone())).unwrap_err();
            assert!(e.to_string().starts_with(field), "{json}: {e}");
        }
    }

    #[test]
    fn only_the_authoritys_items_are_of_record() {
        let spec: ResourceSpec = ResourceSpec::parse(
            serde_json::from_value(serde_json::json!({
                "name": "人口", "key_items": ["id_number"],
                "items": [{"key": "id_number"},
                          {"key": "name", "element": "person.name"},
                          {"key": "phone", "element": "person.mobile"},
                          {"key": "pet", "element": "person.pet_name"}]
            }))
            .unwrap(),
        )
        .unwrap();
        let authority = |e: &ElementCode| match e.as_str() {
            "person.name" => Some("gaj"),
            "person.mobile" => Some("tel"),
            _ => None,
        };
        let marks = item_standings(&spec, "gaj", authority);
        let summary: Vec<(&str, bool)> = marks
            .iter()
            .map(|m| (m.item.as_str(), m.authoritative))
            .collect();
        assert_eq!(
            summary,
            vec![("name", true), ("phone", false), ("pet", false)]
        );
    }
}
