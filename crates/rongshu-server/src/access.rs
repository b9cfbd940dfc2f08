//! Access decisions for reading a resource's data, made in one place: whether
//! the caller reads at all, as provider or consumer, under which grant, which
//! items come out plain, masked or not at all, and which rows.
//!
//! The rules (DESIGN §2 C4, §8):
//! - the provider reads everything plain;
//! - a `none` resource is read only by its provider;
//! - an `unconditional` one by any department: grades 1-2 plain, grade 3
//!   masked unless a grant in force with plain values covers the item, grade 4
//!   never (it is only verified);
//! - a `conditional` one only under a grant in force, and only its items, in
//!   its row scope.
//!
//! Whose grants count: an application key reads under that application's
//! grants only; a signed-in person under any grant in force of his or her
//! department (the department asked for it). When several are in force the
//! newest is used, so a read is always under one grant, named in the audit.

use std::collections::BTreeMap;

use rongshu_core::catalog::{Grade, ResourceSpec, ShareType};
use rongshu_core::sharing::{Purpose, RowScope};
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, Grant, Resource};
use serde::Serialize;

use crate::auth::{Actor, ActorKind};
use crate::error::ApiError;
use crate::read_cache::GrantsKey;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    Provider,
    Consumer,
    /// Anyone, through a published open-data release.
    Public,
}

/// How one item leaves the platform for this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    Plain,
    Masked,
    Hidden,
}

/// The grant a read is made under, as the audit names it.
#[derive(Debug, Clone, Serialize)]
pub struct GrantRef {
    pub id: i64,
    pub purpose: Purpose,
}

#[derive(Debug, Clone)]
pub struct ReadAccess {
    pub reader: Reader,
    pub grant: Option<GrantRef>,
    /// Every declared item with its disclosure; an item not listed is hidden.
    items: BTreeMap<String, Disclosure>,
    /// Equalities every row read must meet (the grant's row scope).
    pub row_scope: Vec<Filter>,
}

impl ReadAccess {
    pub fn disclosure(&self, item: &str) -> Disclosure {
        self.items.get(item).copied().unwrap_or(Disclosure::Hidden)
    }

    /// The public reading a published release: the released items (the
    /// masked ones masked), within the view's filters. Every other item is
    /// hidden, so it is neither read nor usable to choose rows.
    pub fn public(released: impl IntoIterator<Item = (String, bool)>, view: Vec<Filter>) -> Self {
        Self {
            reader: Reader::Public,
            grant: None,
            items: released
                .into_iter()
                .map(|(key, masked)| {
                    let d = if masked {
                        Disclosure::Masked
                    } else {
                        Disclosure::Plain
                    };
                    (key, d)
                })
                .collect(),
            row_scope: view,
        }
    }

    fn provider(spec: &ResourceSpec) -> Self {
        Self {
            reader: Reader::Provider,
            grant: None,
            items: spec
                .items
                .iter()
                .map(|i| (i.key.to_string(), Disclosure::Plain))
                .collect(),
            row_scope: Vec::new(),
        }
    }
}

/// Decide how `actor` reads `resource`, now.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    resource: &Resource,
) -> Result<ReadAccess, ApiError> {
    let department = actor.department();
    if department.code == resource.provider.code {
        return Ok(ReadAccess::provider(&resource.spec));
    }
    if resource.spec.share_type == ShareType::None {
        return Err(not_shared(resource));
    }
    let application = match &actor.kind {
        ActorKind::Application(a) => Some(a.id),
        ActorKind::User(_) => None,
    };
    // The clock is asked here, on every read, also of grants from the read
    // cache: an expired grant stops at once.
    let now = state.clock.now();
    let key = GrantsKey {
        resource: resource.id,
        department: department.id,
        application,
    };
    let grants = match state.read_cache.grants(&key) {
        Some(cached) => cached,
        None => {
            let ticket = state.read_cache.ticket();
            let grants = state
                .store
                .active_grants(resource.id, department.id, application, now)
                .await?;
            state.read_cache.put_grants(key, ticket, grants)
        }
    };
    let in_force: Vec<Grant> = grants
        .iter()
        .filter(|g| g.is_active(now))
        .cloned()
        .collect();
    consumer_access(resource, &in_force)
}

/// Decide how a department reads `resource` when no one signed in asks: a
/// webhook pushed on a subscription's behalf. It reads as the department's
/// signed-in people do, under any grant in force of the department.
pub async fn decide_for_department(
    state: &AppState,
    department: &str,
    resource: &Resource,
) -> Result<ReadAccess, ApiError> {
    if department == resource.provider.code {
        return Ok(ReadAccess::provider(&resource.spec));
    }
    if resource.spec.share_type == ShareType::None {
        return Err(not_shared(resource));
    }
    let department = state.store.department(department).await?;
    let grants = state
        .store
        .active_grants(resource.id, department.id, None, state.clock.now())
        .await?;
    consumer_access(resource, &grants)
}

fn not_shared(resource: &Resource) -> ApiError {
    ApiError::Forbidden(format!(
        "{} is not shared outside {}",
        resource.code, resource.provider.name
    ))
}

/// The consumer's side of the rules, given the grants in force (newest first).
fn consumer_access(resource: &Resource, grants: &[Grant]) -> Result<ReadAccess, ApiError> {
    let spec = &resource.spec;
    let grant = match spec.share_type {
        ShareType::None => return Err(not_shared(resource)),
        // Only a grant that unmasks something changes an unconditional read.
        ShareType::Unconditional => grants.iter().find(|g| g.plain_allowed),
        ShareType::Conditional => Some(grants.first().ok_or_else(|| {
            ApiError::Forbidden(format!(
                "{} is shared on condition: it is read under an approved share request, and none is in force for the caller",
                resource.code
            ))
        })?),
    };
    let conditional = spec.share_type == ShareType::Conditional;
    let items = spec
        .items
        .iter()
        .map(|item| {
            let key = item.key.as_str();
            let granted = grant.is_some_and(|g| g.items.iter().any(|i| i == key));
            let disclosure = if item.grade >= Grade::CORE || (conditional && !granted) {
                Disclosure::Hidden
            } else if item.grade >= Grade::SENSITIVE {
                if granted && grant.is_some_and(|g| g.plain_allowed) {
                    Disclosure::Plain
                } else {
                    Disclosure::Masked
                }
            } else {
                Disclosure::Plain
            };
            (key.to_owned(), disclosure)
        })
        .collect();
    let row_scope = match grant {
        Some(g) => scope_filters(resource, g)?,
        None => Vec::new(),
    };
    Ok(ReadAccess {
        reader: Reader::Consumer,
        grant: grant.map(|g| GrantRef {
            id: g.id,
            purpose: g.purpose,
        }),
        items,
        row_scope,
    })
}

/// The grant's row scope as filters. A scope that no longer fits the
/// resource's declaration (an item was dropped or retyped) fails closed.
fn scope_filters(resource: &Resource, grant: &Grant) -> Result<Vec<Filter>, ApiError> {
    let stale = || {
        ApiError::Forbidden(format!(
            "grant {} no longer fits the declaration of {}: ask for a new one",
            grant.id, resource.code
        ))
    };
    let scope = RowScope::parse(&grant.row_scope, &resource.spec).map_err(|_| stale())?;
    scope
        .terms()
        .iter()
        .map(|term| {
            let item = resource.spec.item(term.item.as_str()).ok_or_else(stale)?;
            let value = parse_cell(item.item_type, &term.value)
                .ok()
                .flatten()
                .ok_or_else(stale)?;
            Ok(Filter::eq(term.item.as_str(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use rongshu_core::catalog::{NewResourceRequest, Status};
    use rongshu_store::{Department, DepartmentRef, ResourceRef};

    fn resource(share_type: &str) -> Resource {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "人口", "summary": "户籍人口", "share_type": share_type, "update_cycle": "daily",
            "share_condition": "依申请", "classification": "1-01-001", "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
                {"key": "name", "name": "姓名", "type": "string", "grade": 3},
                {"key": "district", "name": "区县", "type": "string", "grade": 1},
                {"key": "income", "name": "年收入", "type": "decimal", "grade": 4}
            ]
        }))
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        Resource {
            id: 1,
            code: "101001-00001".into(),
            provider: Department {
                id: 1,
                code: "gaj".into(),
                name: "公安局".into(),
                parent_code: None,
            },
            spec: ResourceSpec::parse(req).unwrap(),
            status: Status::Published,
            version: 1,
            working: None,
            publish_date: None,
            quality_rules: serde_json::json!([]),
            row_count: 0,
            created_at: now,
            updated_at: now,
            table_name: "t".into(),
        }
    }

    fn grant(items: &[&str], plain: bool, scope: &[&str]) -> Grant {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let d = |c: &str| DepartmentRef {
            code: c.into(),
            name: c.into(),
        };
        Grant {
            id: 7,
            request_id: Some(1),
            resource: ResourceRef {
                code: "101001-00001".into(),
                name: "人口".into(),
            },
            provider: d("gaj"),
            consumer: d("rsj"),
            application: "app".into(),
            application_id: 1,
            items: items.iter().map(|s| (*s).to_owned()).collect(),
            row_scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            purpose: Purpose::DataVerification,
            plain_allowed: plain,
            starts_at: now,
            expires_at: now + chrono::Duration::days(30),
            revoked_at: None,
            revoked_by: None,
            reason: None,
        }
    }

    fn shown(access: &ReadAccess) -> Vec<(&str, Disclosure)> {
        ["id_number", "name", "district", "income"]
            .into_iter()
            .map(|k| (k, access.disclosure(k)))
            .collect()
    }

    use Disclosure::{Hidden, Masked, Plain};

    #[test]
    fn unconditional_masks_grade_three_unless_a_plain_grant_covers_it() {
        let r = resource("unconditional");
        let a = consumer_access(&r, &[]).unwrap();
        assert_eq!(
            shown(&a),
            [
                ("id_number", Masked),
                ("name", Masked),
                ("district", Plain),
                ("income", Hidden)
            ]
        );
        assert!(a.grant.is_none());
        let a = consumer_access(&r, &[grant(&["name"], true, &[])]).unwrap();
        assert_eq!(
            shown(&a),
            [
                ("id_number", Masked),
                ("name", Plain),
                ("district", Plain),
                ("income", Hidden)
            ]
        );
        assert_eq!(a.grant.map(|g| g.id), Some(7));
    }

    #[test]
    fn conditional_needs_a_grant_and_shows_only_its_items_and_rows() {
        let r = resource("conditional");
        assert!(matches!(
            consumer_access(&r, &[]),
            Err(ApiError::Forbidden(_))
        ));
        let a = consumer_access(
            &r,
            &[grant(&["name", "district"], false, &["district=锦江区"])],
        )
        .unwrap();
        assert_eq!(
            shown(&a),
            [
                ("id_number", Hidden),
                ("name", Masked),
                ("district", Plain),
                ("income", Hidden)
            ]
        );
        assert_eq!(a.row_scope.len(), 1);
        // A scope naming an item the resource no longer has fails closed.
        assert!(consumer_access(&r, &[grant(&["name"], false, &["gone=1"])]).is_err());
    }

    #[test]
    fn none_is_never_read_by_a_consumer() {
        let r = resource("none");
        assert!(consumer_access(&r, &[grant(&["name"], true, &[])]).is_err());
    }
}
