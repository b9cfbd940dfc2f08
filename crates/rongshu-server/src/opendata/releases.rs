//! The steps of a release shared by the HTTP API and the demo: propose (check
//! the view, scan it), treat flagged items, approve, withdraw. Each writes
//! its audit event with the change. Who may take a step is the caller's check.

use chrono::{DateTime, Utc};
use rongshu_core::catalog::Status;
use rongshu_core::opendata::{
    ReleaseName, ReleaseOpenType, ReleaseView, Treatment, ViewFilter, blocking_items, check_view,
};
use rongshu_store::{NewRelease, Release, ReleaseChange, Store};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::opendata::gate;
use crate::opendata::package::license;
use crate::service::Doer;

/// A proposal as a client sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The resource's catalog code.
    pub resource: String,
    /// The dataset's name in URLs and CKAN (default: the resource code).
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Item keys to open (default: every item below grade 4).
    #[serde(default)]
    pub items: Vec<String>,
    /// Rows to open: `[{"item", "op", "value"}]`, all of which must hold.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub filters: Vec<ViewFilter>,
    /// `open` or `conditional` (default: as the catalog declares).
    pub open_type: Option<String>,
    pub open_condition: Option<String>,
    /// A licence id (default `cc-by-4.0`).
    pub license: Option<String>,
}

fn text(raw: Option<&str>, default: &str, field: &str, max: usize) -> Result<String, ApiError> {
    let value = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    if value.chars().count() > max {
        return Err(ApiError::Unprocessable(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(value.to_owned())
}

fn domain(e: rongshu_core::opendata::ReleaseError) -> ApiError {
    use rongshu_core::opendata::ReleaseError as E;
    match e {
        E::NotProposed(_) | E::AlreadyWithdrawn | E::Blocked(_) => {
            ApiError::Conflict(e.to_string())
        }
        E::SelfReview => ApiError::Forbidden(e.to_string()),
        _ => ApiError::Unprocessable(e.to_string()),
    }
}

/// Check and scan a proposal for `resource`, and store it.
pub async fn propose(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    proposal: Proposal,
) -> Result<Release, ApiError> {
    let resource = store.resource(&proposal.resource).await?;
    if resource.status != Status::Published {
        return Err(ApiError::Conflict(format!(
            "{} is not published in the catalog: only a published resource is opened",
            resource.code
        )));
    }
    let spec = &resource.spec;
    let open_type =
        ReleaseOpenType::choose(proposal.open_type.as_deref(), spec.open_type).map_err(domain)?;
    let name =
        ReleaseName::parse(proposal.name.as_deref().unwrap_or(&resource.code)).map_err(domain)?;
    let view = check_view(
        spec,
        ReleaseView {
            items: proposal.items,
            filters: proposal.filters,
        },
    )
    .map_err(domain)?;
    let license_id = proposal.license.as_deref().unwrap_or("cc-by-4.0");
    if license(license_id).is_none() {
        return Err(ApiError::Unprocessable(format!(
            "license: \"{license_id}\" is not one of {}",
            crate::opendata::package::LICENSES
                .iter()
                .map(|l| l.0)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let title = text(proposal.title.as_deref(), &spec.name, "title", 200)?;
    let description = text(
        proposal.description.as_deref(),
        &spec.summary,
        "description",
        4000,
    )?;
    let open_condition = proposal
        .open_condition
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(spec.open_condition.as_deref());
    if open_type == ReleaseOpenType::Conditional && open_condition.is_none() {
        return Err(ApiError::Unprocessable(
            "open_condition: a conditional release says on what terms it is used".into(),
        ));
    }
    let scan = gate::scan_view(store, &resource, &view).await?;
    let audit = doer.record(
        now,
        "release.propose",
        None,
        json!({
            "name": name.as_str(), "items": view.items, "filters": view.filters,
            "open_type": open_type, "rows_scanned": scan.rows_scanned,
            "flagged": scan.findings.iter().map(|f| &f.item).collect::<Vec<_>>(),
        }),
    );
    let mut audit = audit;
    audit.resource = Some(resource.code.clone());
    Ok(store
        .create_release(
            &NewRelease {
                name: name.as_str(),
                resource: &resource,
                title: &title,
                description: &description,
                open_type,
                open_condition,
                license: license_id,
                view: &view,
                scan: &scan,
                proposed_by: &doer.label,
                now,
            },
            &audit,
        )
        .await?)
}

/// One treatment as a client sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TreatmentBody {
    pub item: String,
    /// `mask`, `drop` or `justify`.
    pub action: String,
    /// Why the values may go out as they are (for `justify`).
    pub reason: Option<String>,
}

/// Record what is done about items of the view.
pub async fn treat(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    release: &Release,
    asked: &[TreatmentBody],
) -> Result<Release, ApiError> {
    release.state.check_proposed().map_err(domain)?;
    if asked.is_empty() {
        return Err(ApiError::Unprocessable(
            "treatments: name at least one item and what to do with it".into(),
        ));
    }
    let mut treatments = release.treatments.clone();
    for t in asked {
        if !release.view.items.contains(&t.item) {
            return Err(ApiError::Unprocessable(format!(
                "{}: not an item of this release's view",
                t.item
            )));
        }
        let treatment =
            Treatment::parse(&t.item, &t.action, t.reason.as_deref()).map_err(domain)?;
        treatments.insert(t.item.clone(), treatment);
    }
    if release
        .view
        .items
        .iter()
        .all(|i| matches!(treatments.get(i), Some(Treatment::Drop)))
    {
        return Err(ApiError::Unprocessable(
            "treatments: dropping every item leaves nothing to release; withdraw it instead".into(),
        ));
    }
    let mut audit = doer.record(
        now,
        "release.treat",
        None,
        json!({ "treatments": treatments }),
    );
    audit.resource = Some(release.resource_code.clone());
    Ok(store
        .change_release(
            release.id,
            ReleaseChange::Treatments(&treatments),
            now,
            &audit,
        )
        .await?)
}

/// Approve and publish, as the reviewer `doer`.
pub async fn approve(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    release: &Release,
) -> Result<Release, ApiError> {
    let blocking = blocking_items(&release.scan, &release.treatments);
    release
        .state
        .approve(&blocking, &release.proposed_by, &doer.label)
        .map_err(domain)?;
    let mut audit = doer.record(
        now,
        "release.approve",
        None,
        json!({ "name": release.name, "treatments": release.treatments }),
    );
    audit.resource = Some(release.resource_code.clone());
    Ok(store
        .change_release(
            release.id,
            ReleaseChange::Publish {
                reviewer: &doer.label,
            },
            now,
            &audit,
        )
        .await?)
}

/// Take a release back, published or not.
pub async fn withdraw(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    release: &Release,
    reason: Option<&str>,
) -> Result<Release, ApiError> {
    release.state.withdraw().map_err(domain)?;
    let mut audit = doer.record(
        now,
        "release.withdraw",
        None,
        json!({ "name": release.name, "reason": reason }),
    );
    audit.resource = Some(release.resource_code.clone());
    Ok(store
        .change_release(
            release.id,
            ReleaseChange::Withdraw { by: &doer.label },
            now,
            &audit,
        )
        .await?)
}
