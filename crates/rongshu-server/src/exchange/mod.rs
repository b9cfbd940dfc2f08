//! Exchange (共享交换): the change feed, webhook delivery and verification
//! without disclosure, and the one rule that decides what they may show.

pub(crate) mod delivery;
pub(crate) mod feed;
pub(crate) mod signature;
pub(crate) mod verify;

use rongshu_store::Resource;

use crate::access::{self, Disclosure, ReadAccess};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::AppState;

/// Who is reading through exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// A signed-in caller (feed, verification, subscribing).
    Caller(&'a Actor),
    /// A subscription's department, when the server pushes on its behalf.
    Subscriber(&'a str),
}

/// Whether `who` may read `resource` through exchange, and how: the same
/// grant-aware decision as record reads. A stream of changes cannot honour a
/// row scope (a deletion carries only its key), so a reader limited to some
/// rows is refused here rather than sent rows outside them.
pub(crate) async fn reader(
    state: &AppState,
    who: Reader<'_>,
    resource: &Resource,
) -> Result<ReadAccess, ApiError> {
    let decided = match who {
        Reader::Caller(actor) => access::decide(state, actor, resource).await?,
        Reader::Subscriber(department) => {
            access::decide_for_department(state, department, resource).await?
        }
    };
    if !decided.row_scope.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "the grant on {} covers only some rows: read them through the records API, not the change feed",
            resource.code
        )));
    }
    Ok(decided)
}

/// The items a change's record shows the reader, and of those the masked
/// ones, for the audit: a feed shows every item the reader may see.
pub(crate) fn shown_items(resource: &Resource, access: &ReadAccess) -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::new();
    let mut masked = Vec::new();
    for item in &resource.spec.items {
        let key = item.key.as_str();
        match access.disclosure(key) {
            Disclosure::Hidden => {}
            Disclosure::Masked => {
                shown.push(key.to_owned());
                masked.push(key.to_owned());
            }
            Disclosure::Plain => shown.push(key.to_owned()),
        }
    }
    (shown, masked)
}
