//! Exchange (共享交换): the change feed, webhook delivery and verification
//! without disclosure, and the one rule that decides what they may show.

pub(crate) mod delivery;
pub(crate) mod feed;
pub(crate) mod signature;
pub(crate) mod verify;

use rongshu_store::Resource;

use crate::auth::Actor;
use crate::disclosure::Audience;
use crate::error::ApiError;
use crate::routes::records;

/// Who is reading through exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// A signed-in caller (feed, verification, subscribing).
    Caller(&'a Actor),
    /// A subscription's department, when the server pushes on its behalf.
    Subscriber(&'a str),
}

/// Whether `who` may read `resource` through exchange, and how masked. The one
/// place exchange decides read access: today exactly as record reads do; the
/// grant-aware decision replaces the body of this function.
pub(crate) fn reader(who: Reader<'_>, resource: &Resource) -> Result<Audience, ApiError> {
    match who {
        Reader::Caller(actor) => records::audience(actor, resource),
        Reader::Subscriber(department) => records::department_audience(department, resource),
    }
}
