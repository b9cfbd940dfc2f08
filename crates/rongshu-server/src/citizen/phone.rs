//! Where a person's registered mobile number is found. One data, one source:
//! the number of record is the authoritative department's value of the
//! `person.mobile` data element (in the synthetic city, the telecoms office's
//! real-name register), looked up by the item that carries
//! `person.citizen_id` in the same resource. A deployment whose registry
//! says nothing can name the resource instead (`phone_resource`).

use rongshu_core::catalog::{ResourceSpec, Status};
use rongshu_core::ident::{CitizenId, Mobile};
use rongshu_core::kind::ItemKind;
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, RecordQuery, Resource, StoreError};
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

pub const MOBILE_ELEMENT: &str = "person.mobile";
pub const CITIZEN_ID_ELEMENT: &str = "person.citizen_id";

/// Rows of one person looked at, at most (a person may have several lines).
const ROWS: i64 = 50;

/// The items of a resource that give a person's mobile by ID number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneItems {
    pub id_item: String,
    pub phone_item: String,
}

/// Which items of `spec` to use: the ID number is the item carrying
/// `person.citizen_id`, else one of the ID-number kind; the phone is
/// `phone_item` when the registry named it, else the item carrying
/// `person.mobile`, else one of the mobile kind.
pub fn phone_items(spec: &ResourceSpec, phone_item: Option<&str>) -> Option<PhoneItems> {
    let by_element = |element: &str| {
        spec.items
            .iter()
            .find(|i| i.element.as_ref().is_some_and(|e| e.as_str() == element))
    };
    let by_kind = |kind: ItemKind| spec.items.iter().find(|i| i.kind == Some(kind));
    let id_item = by_element(CITIZEN_ID_ELEMENT).or_else(|| by_kind(ItemKind::CitizenId))?;
    let phone_item = match phone_item {
        Some(key) => spec.item(key)?,
        None => by_element(MOBILE_ELEMENT).or_else(|| by_kind(ItemKind::Mobile))?,
    };
    Some(PhoneItems {
        id_item: id_item.key.to_string(),
        phone_item: phone_item.key.to_string(),
    })
}

/// The resource and items to look in, if the platform knows any.
async fn phone_source(state: &AppState) -> Result<Option<(Resource, PhoneItems)>, ApiError> {
    if let Some(code) = &state.config.citizen.phone_resource {
        let resource = state.store.resource(code).await?;
        return Ok(phone_items(&resource.spec, None).map(|items| (resource, items)));
    }
    let sources = match state.store.element_sources(MOBILE_ELEMENT).await {
        Ok(sources) => sources,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for source in sources
        .iter()
        .filter(|s| s.authoritative && s.status == Status::Published)
    {
        let resource = state.store.resource(&source.resource).await?;
        if let Some(items) = phone_items(&resource.spec, Some(&source.item)) {
            return Ok(Some((resource, items)));
        }
    }
    Ok(None)
}

/// The mobile registered for `id`, if there is one: of the person's rows,
/// the one loaded last whose number is a valid mobile.
pub async fn registered_phone(
    state: &AppState,
    id: &CitizenId,
) -> Result<Option<Mobile>, ApiError> {
    let Some((resource, items)) = phone_source(state).await? else {
        return Ok(None);
    };
    let Some(id_item) = resource.spec.item(&items.id_item) else {
        return Ok(None);
    };
    let Ok(Some(value)) = parse_cell(id_item.item_type, id.as_str()) else {
        return Ok(None);
    };
    let query = RecordQuery {
        filters: vec![Filter::eq(items.id_item.as_str(), value)],
        fields: vec![items.phone_item.clone()],
        limit: ROWS,
        sort: Vec::new(),
        after: None,
    };
    let page = state.store.query_records(&resource, &query).await?;
    Ok(page.records.iter().rev().find_map(|record| {
        record
            .get(&items.phone_item)
            .and_then(Value::as_str)
            .and_then(|raw| Mobile::parse(raw).ok())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rongshu_core::catalog::NewResourceRequest;

    fn spec(items: serde_json::Value) -> ResourceSpec {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "手机用户实名登记信息", "summary": "实名登记", "share_type": "none", "share_condition": "不予共享",
            "update_cycle": "daily", "classification": "3-01-001", "key_items": ["record_no"],
            "items": items,
        }))
        .unwrap();
        ResourceSpec::parse(req).unwrap()
    }

    #[test]
    fn elements_name_the_items_before_kinds_do() {
        let s = spec(serde_json::json!([
            {"key": "record_no", "name": "记录编号", "type": "string", "required": true, "grade": 1},
            {"key": "contact", "name": "联系电话", "type": "string", "grade": 3},
            {"key": "phone", "name": "手机号码", "type": "string", "grade": 3, "element": "person.mobile"},
            {"key": "holder_id", "name": "证件号码", "type": "string", "grade": 3, "element": "person.citizen_id"}
        ]));
        assert_eq!(
            phone_items(&s, None),
            Some(PhoneItems {
                id_item: "holder_id".into(),
                phone_item: "phone".into()
            })
        );
        // The registry's own item wins.
        assert_eq!(
            phone_items(&s, Some("contact")).map(|p| p.phone_item),
            Some("contact".into())
        );
        assert_eq!(phone_items(&s, Some("gone")), None);
    }

    #[test]
    fn kinds_stand_in_for_elements_and_both_items_are_needed() {
        let s = spec(serde_json::json!([
            {"key": "record_no", "name": "记录编号", "type": "string", "required": true, "grade": 1},
            {"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3},
            {"key": "mobile", "name": "手机号码", "type": "string", "grade": 3}
        ]));
        assert_eq!(
            phone_items(&s, None),
            Some(PhoneItems {
                id_item: "id_number".into(),
                phone_item: "mobile".into()
            })
        );
        let no_phone = spec(serde_json::json!([
            {"key": "record_no", "name": "记录编号", "type": "string", "required": true, "grade": 1},
            {"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3}
        ]));
        assert_eq!(phone_items(&no_phone, None), None);
    }
}
