//! The base registries over HTTP, and verification after each batch.
//!
//! Reading a registry record goes through the sharing rules of the resources
//! its values come from: each golden value (and each witness value) is shown
//! as the caller would see that item of that resource through the data API —
//! plain, masked or withheld — so the registry is never a way around a
//! provider's sharing decision. The registry adds no grants of its own.

use rongshu_core::registry::SubjectKind;
use rongshu_store::{Resource, Store};

use chrono::{DateTime, Utc};

/// A ticket is due this many working days (the office's holiday calendar)
/// after it is opened, as a share request is.
pub const DUE_WORKING_DAYS: u32 = rongshu_core::sharing::SLA_WORKING_DAYS;

/// After a batch: verify what it touched, once the registry has been built.
/// A failure is logged, never the batch's failure.
pub async fn after_batch(store: &Store, now: DateTime<Utc>, resource: &Resource) {
    match store.registry_built().await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not tell whether the registry is built");
            return;
        }
    }
    match store
        .verify_after_batch(&resource.code, now, store.registry_run(DUE_WORKING_DAYS))
        .await
    {
        Ok(Some(stats)) => tracing::info!(
            resource = %resource.code,
            changed = stats.changed,
            opened = stats.tickets_opened,
            closed = stats.tickets_closed,
            "registry verified after batch"
        ),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(resource = %resource.code, error = %e, "registry verification after batch failed")
        }
    }
}

pub fn kind_name(kind: SubjectKind) -> &'static str {
    kind.as_str()
}
