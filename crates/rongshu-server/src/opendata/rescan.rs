//! Published releases are scanned again whenever their data changes: a later
//! batch may bring personal values the treatments chosen at review do not
//! cover (a mobile typed into a remarks item, a name where a district was).
//! Such a release is suspended — off the portal, the open APIs and downloads
//! at once — until its provider deals with the new hits and a reviewer
//! approves it again.
//!
//! The scan runs right after a batch loads through the server, and a sweep
//! now and then catches batches loaded any other way (the command line,
//! another server process): a release is due when its resource's last load
//! is newer than the release's last change.

use chrono::{DateTime, Utc};
use rongshu_core::opendata::{ReleaseState, blocking_items};
use rongshu_store::{Release, ReleaseChange};
use serde_json::json;

use crate::error::ApiError;
use crate::opendata::gate;
use crate::service::Doer;
use crate::state::AppState;

/// How the rescan is named in the audit log.
pub const RESCAN_ACTOR: &str = "system:rescan";

/// Scan a published release's data again and suspend it when new hits are
/// not covered. Returns the release as it now stands.
pub async fn rescan(state: &AppState, release: &Release) -> Result<Release, ApiError> {
    let store = &state.store;
    let resource = store.resource(&release.resource_code).await?;
    let scan = gate::scan_view(store, &resource, &release.view).await?;
    let blocking = blocking_items(&scan, &release.treatments);
    let suspend = release.state.after_rescan(&blocking) == ReleaseState::Suspended;
    let doer = Doer {
        label: RESCAN_ACTOR.into(),
        department: None,
    };
    let action = if suspend {
        "release.suspend"
    } else {
        "release.rescan"
    };
    let mut audit = doer.record(
        state.clock.now(),
        action,
        None,
        json!({
            "name": release.name,
            "rows_scanned": scan.rows_scanned,
            "flagged": scan.findings.iter().map(|f| &f.item).collect::<Vec<_>>(),
            "uncovered": blocking,
        }),
    );
    audit.resource = Some(release.resource_code.clone());
    let changed = store
        .change_release(
            release.id,
            ReleaseChange::Rescan {
                scan: &scan,
                suspend,
            },
            state.clock.now(),
            &audit,
        )
        .await?;
    if suspend {
        tracing::warn!(release = %release.name, items = ?blocking, "release suspended: new personal values in its data");
    }
    Ok(changed)
}

/// Rescan every published release of `resource_code` (after its batch).
pub async fn after_batch(state: &AppState, resource_code: &str) -> Result<Vec<Release>, ApiError> {
    let mut suspended = Vec::new();
    for release in state
        .store
        .releases(Some(ReleaseState::Published), None)
        .await?
        .into_iter()
        .filter(|r| r.resource_code == resource_code)
    {
        let after = rescan(state, &release).await?;
        if after.state == ReleaseState::Suspended {
            suspended.push(after);
        }
    }
    Ok(suspended)
}

/// After a batch of `resource_code` loaded through the server: rescan its
/// releases before the uploader is answered. A failure is logged, not
/// returned (the batch is loaded either way); the sweep tries again.
pub async fn after_load(state: &AppState, resource_code: &str) {
    if let Err(e) = after_batch(state, resource_code).await {
        tracing::warn!(resource = resource_code, error = %e, "could not rescan the releases of a resource after its batch");
    }
}

/// Rescan every published release whose data changed after its last change.
pub async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let loads = state.store.last_loads(None).await?;
    let last_load = |code: &str| -> Option<DateTime<Utc>> {
        loads
            .iter()
            .find(|(c, _)| c == code)
            .and_then(|(_, at)| at.as_deref())
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc))
    };
    let mut scanned = 0;
    for release in state
        .store
        .releases(Some(ReleaseState::Published), None)
        .await?
    {
        if last_load(&release.resource_code).is_some_and(|at| at > release.updated_at) {
            rescan(state, &release).await?;
            scanned += 1;
        }
    }
    Ok(scanned)
}

/// Start the sweep on the current runtime (the first one runs at once).
pub(crate) fn start(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.config.overdue_sweep_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&state).await {
                Ok(n) if n > 0 => {
                    tracing::info!(releases = n, "rescanned releases whose data changed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not rescan releases"),
            }
        }
    });
}
