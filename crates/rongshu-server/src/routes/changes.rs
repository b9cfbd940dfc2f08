//! The change feed: a resource's change log after a sequence number, masked
//! like any read, for a consumer keeping its own copy in step.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access;
use crate::auth::Actor;
use crate::error::ApiError;
use crate::exchange::feed::{DEFAULT_LIMIT, KEY_REF_SECRET, KeyRefs, MAX_LIMIT, present_change};
use crate::exchange::{Reader, reader, shown_items};
use crate::extract::ApiQuery;
use crate::people::{self, person_key};
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::audit::AuditEntry;

#[derive(Deserialize)]
pub struct ChangesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// Changes after `after`, oldest first. Records are masked as reads are; a key
/// whose items the caller may not see plainly is masked too, and the change
/// then carries `key_ref`, a stable pseudonym of the key for this caller's
/// department, so a copy can still be kept in step. `next_after` is the last
/// sequence number returned (or `after` when there was none): pass it back.
#[utoipa::path(get, path = "/api/v1/resources/{code}/changes", tag = "exchange",
    params(("code" = String, Path, description = "Resource code"),
           ("after" = Option<i64>, Query, description = "Sequence number to continue after (0, the default, starts at the beginning)"),
           ("limit" = Option<i64>, Query, description = "Changes per page, 1 to 5000 (default 500)")),
    responses((status = 200, description = "`{\"changes\": [{seq, op, key, key_ref?, record, batch_id}], \"next_after\": N}`"),
              (status = 400, description = "A bad `after` or `limit`"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource is not shared with the caller")))]
pub async fn feed(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest(
            "after must be 0 or a sequence number".into(),
        ));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be a number from 1 to {MAX_LIMIT}"
        )));
    }
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let access = reader(&state, Reader::Caller(&actor), &resource).await?;
    let now = state.clock.now();
    let changes = state.store.changes(&resource, after, limit).await?;
    let next_after = changes.last().map_or(after, |c| c.seq);
    let secret = state.store.platform_secret(KEY_REF_SECRET, now).await?;
    let refs = KeyRefs::new(secret, &resource.code, &actor.department().code);
    let count = changes.len() as i64;
    let people = people::of_changes(person_key(&state).await?, &resource, &changes);
    let presented: Vec<Value> = changes
        .into_iter()
        .map(|c| present_change(&resource, c, &access, &refs))
        .collect();
    let (items, masked) = shown_items(&resource, &access);
    let mut audit = doer(&actor).record(
        now,
        "data.read",
        Some(resource.code.clone()),
        json!({
            "via": "changes",
            "operation": "changes",
            "after": after,
            "next_after": next_after,
            "masked": access.reader == access::Reader::Consumer,
            "reader": access.reader,
            "items": items,
            "masked_items": masked,
            "grant": access.grant.as_ref().map(|g| g.id),
            "purpose": access.grant.as_ref().map(|g| g.purpose),
        }),
    );
    audit.resource = Some(resource.code.clone());
    audit.rows = Some(count);
    // The read is on record, with the people it touched, before anyone sees its answer.
    state.audit.record(AuditEntry::new(audit, people)).await?;
    Ok(Json(
        json!({ "changes": presented, "next_after": next_after }),
    ))
}
