//! A published release as the open-data APIs describe it (a "dataset"): its
//! resource's declaration, only the items it releases, and CKAN's package,
//! organization and resource shapes built from it.

use std::collections::BTreeMap;

use rongshu_core::catalog::{Item, ItemType};
use rongshu_core::opendata::{ReleaseState, ReleasedItem, released_items};
use rongshu_store::{Department, DownloadCounts, Release, Resource};
use serde_json::{Map, Value, json};

use crate::disclosure::mask_text;
use crate::error::ApiError;
use crate::opendata::download::{DownloadFormat, download_url};
use crate::state::AppState;

/// The licences a release may carry: id, title, URL.
pub const LICENSES: &[(&str, &str, &str)] = &[
    (
        "cc-by-4.0",
        "知识共享署名 4.0 (CC BY 4.0)",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    (
        "cc0-1.0",
        "知识共享零 1.0 (CC0 1.0)",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    (
        "odc-by",
        "开放数据共享署名许可 (ODC-By)",
        "https://opendatacommons.org/licenses/by/1-0/",
    ),
];

pub fn license(id: &str) -> Option<(&'static str, &'static str, &'static str)> {
    LICENSES.iter().copied().find(|l| l.0 == id)
}

/// A published release with its resource.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub release: Release,
    pub resource: Resource,
    /// The released items with their declarations, in the resource's order.
    pub items: Vec<(Item, bool)>,
}

impl Dataset {
    pub fn new(release: Release, resource: Resource) -> Self {
        let items = released_items(&release.view, &release.treatments)
            .into_iter()
            .filter_map(|ReleasedItem { key, masked }| {
                resource.spec.item(&key).map(|i| (i.clone(), masked))
            })
            .collect();
        Self {
            release,
            resource,
            items,
        }
    }

    pub fn name(&self) -> &str {
        &self.release.name
    }

    /// The one CKAN resource (the datastore table) of the dataset.
    pub fn resource_id(&self) -> String {
        format!("{}-data", self.release.name)
    }

    pub fn item(&self, key: &str) -> Option<&(Item, bool)> {
        self.items.iter().find(|(i, _)| i.key.as_str() == key)
    }

    /// A row as it leaves: masked items masked. Dropped items are never
    /// read (the query names only released items), so there is nothing to remove.
    pub fn present(&self, record: &mut Map<String, Value>) {
        for (key, value) in record.iter_mut() {
            let Some((item, true)) = self.item(key) else {
                continue;
            };
            match value {
                Value::String(s) => *s = mask_text(item.kind, s),
                Value::Null => {}
                // A masked number or date is no less telling than a name.
                other => *other = Value::String("***".into()),
            }
        }
    }

    /// When its metadata or data last changed, as CKAN's `metadata_modified`.
    pub fn modified(&self) -> chrono::DateTime<chrono::Utc> {
        self.release.updated_at.max(self.resource.updated_at)
    }
}

/// Every published dataset, oldest first.
pub async fn published(state: &AppState) -> Result<Vec<Dataset>, ApiError> {
    let releases = state
        .store
        .releases(Some(ReleaseState::Published), None)
        .await?;
    let resources: BTreeMap<String, Resource> = state
        .store
        .resources(None)
        .await?
        .into_iter()
        .map(|r| (r.code.clone(), r))
        .collect();
    Ok(releases
        .into_iter()
        .filter_map(|release| {
            let resource = resources.get(&release.resource_code)?.clone();
            Some(Dataset::new(release, resource))
        })
        .collect())
}

/// One published dataset by name; anything else (unknown, proposed,
/// withdrawn) is not found, so nothing unpublished shows through.
pub async fn published_dataset(state: &AppState, name: &str) -> Result<Dataset, ApiError> {
    let not_found = || ApiError::NotFound(format!("dataset {name} does not exist"));
    let release = match state.store.release_by_name(name).await {
        Ok(r) => r,
        Err(rongshu_store::StoreError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if release.state != ReleaseState::Published {
        return Err(not_found());
    }
    let resource = state.store.resource(&release.resource_code).await?;
    Ok(Dataset::new(release, resource))
}

/// CKAN's field types for the datastore's `fields`.
pub fn datastore_type(item_type: ItemType, masked: bool) -> &'static str {
    if masked {
        return "text";
    }
    match item_type {
        ItemType::String => "text",
        ItemType::Integer => "int",
        ItemType::Decimal => "numeric",
        ItemType::Date => "date",
        ItemType::Datetime => "timestamp",
        ItemType::Boolean => "bool",
    }
}

fn ckan_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub fn ckan_organization(dept: &Department, package_count: usize) -> Value {
    json!({
        "id": dept.code,
        "name": dept.code,
        "title": dept.name,
        "display_name": dept.name,
        "description": "",
        "image_url": "",
        "type": "organization",
        "is_organization": true,
        "state": "active",
        "approval_status": "approved",
        "package_count": package_count,
    })
}

pub fn ckan_group(topic: &str, package_count: usize) -> Value {
    json!({
        "id": topic, "name": topic, "title": topic, "display_name": topic,
        "description": "", "image_url": "", "type": "group", "is_organization": false,
        "state": "active", "approval_status": "approved", "package_count": package_count,
    })
}

fn ckan_schema(d: &Dataset) -> Value {
    json!({
        "fields": d.items.iter().map(|(i, masked)| json!({
            "id": i.key.as_str(), "title": i.name,
            "type": datastore_type(i.item_type, *masked), "masked": masked,
        })).collect::<Vec<_>>()
    })
}

/// The datastore resource: the rows through `datastore_search`.
pub fn ckan_resource(d: &Dataset, base: &str) -> Value {
    let id = d.resource_id();
    json!({
        "id": id,
        "package_id": d.name(),
        "name": d.release.title,
        "description": d.release.description,
        "format": "JSON",
        "mimetype": "application/json",
        "url": format!("{base}/api/3/action/datastore_search?resource_id={id}"),
        "url_type": "datastore",
        "datastore_active": true,
        "state": "active",
        "position": 0,
        "created": ckan_time(d.release.published_at.unwrap_or(d.release.proposed_at)),
        "last_modified": ckan_time(d.modified()),
        "schema": ckan_schema(d),
    })
}

/// The CKAN resource id of a download distribution.
pub fn download_resource_id(d: &Dataset, format: DownloadFormat) -> String {
    format!("{}-{}", d.release.name, format.as_str())
}

/// A download distribution as a CKAN resource (a file at `url`).
pub fn ckan_download_resource(d: &Dataset, base: &str, format: DownloadFormat) -> Value {
    let position = DownloadFormat::ALL
        .iter()
        .position(|f| *f == format)
        .map_or(0, |p| p + 1);
    json!({
        "id": download_resource_id(d, format),
        "package_id": d.name(),
        "name": format!("{}（{}）", d.release.title, format.title()),
        "description": d.release.description,
        "format": format.label(),
        "mimetype": format.media_type(),
        "url": download_url(d, base, format),
        "url_type": null,
        "datastore_active": false,
        "state": "active",
        "position": position,
        "created": ckan_time(d.release.published_at.unwrap_or(d.release.proposed_at)),
        "last_modified": ckan_time(d.modified()),
        "schema": ckan_schema(d),
    })
}

/// Every resource of a dataset: the datastore first, then the downloads.
pub fn ckan_resources(d: &Dataset, base: &str) -> Vec<Value> {
    std::iter::once(ckan_resource(d, base))
        .chain(
            DownloadFormat::ALL
                .into_iter()
                .map(|f| ckan_download_resource(d, base, f)),
        )
        .collect()
}

/// The downloads as a `package_show` extra (CKAN extras are strings).
pub fn downloads_extra(counts: &DownloadCounts) -> Value {
    json!({"key": "downloads", "value": counts.total.to_string()})
}

pub fn ckan_package(d: &Dataset, base: &str) -> Value {
    let spec = &d.resource.spec;
    let (license_id, license_title, license_url) =
        license(&d.release.license).unwrap_or(("other", "其他", ""));
    let extra = |k: &str, v: &str| json!({"key": k, "value": v});
    json!({
        "id": d.name(),
        "name": d.name(),
        "title": d.release.title,
        "notes": d.release.description,
        "type": "dataset",
        "state": "active",
        "private": false,
        "url": "",
        "version": null,
        "author": d.resource.provider.name,
        "author_email": null,
        "maintainer": d.resource.provider.name,
        "maintainer_email": null,
        "license_id": license_id,
        "license_title": license_title,
        "license_url": license_url,
        "metadata_created": ckan_time(d.release.proposed_at),
        "metadata_modified": ckan_time(d.modified()),
        "owner_org": d.resource.provider.code,
        "organization": ckan_organization(&d.resource.provider, 0),
        "groups": spec.topics.iter().map(|t| ckan_group(t, 0)).collect::<Vec<_>>(),
        "tags": spec.keywords.iter().map(|k| json!({"name": k, "display_name": k, "state": "active"})).collect::<Vec<_>>(),
        "num_tags": spec.keywords.len(),
        "resources": ckan_resources(d, base),
        "num_resources": 1 + DownloadFormat::ALL.len(),
        "extras": [
            extra("open_type", d.release.open_type.as_str()),
            extra("open_condition", d.release.open_condition.as_deref().unwrap_or("")),
            extra("update_cycle", spec.update_cycle.as_str()),
            extra("catalog_code", &d.resource.code),
            extra("proposed_by", &d.release.proposed_by),
            extra("reviewed_by", d.release.reviewed_by.as_deref().unwrap_or("")),
        ],
    })
}
