//! The catalog model (资源目录): what a resource declares about itself, its
//! lifecycle, and how two versions of it differ. Checked at the edge, so past
//! it an invalid declaration cannot exist.

mod diff;
mod element;
mod lifecycle;
mod metadata;
mod spec;
mod types;

pub use diff::{FieldChange, diff_specs};
pub use element::{
    ElementCode, ElementError, ElementSpec, ItemStanding, MAX_ELEMENT_DESCRIPTION_CHARS,
    MAX_ELEMENT_NAME_CHARS, NewElementRequest, item_standings,
};
pub use lifecycle::{LifecycleError, Status, Transition, next as next_status};
pub use metadata::{Classification, Format, OpenType, PRIORITY_TOPICS, ResourceKind, ShareMode};
pub use spec::{
    Item, ItemRequest, MAX_ITEMS, MAX_NAME_CHARS, MAX_SUMMARY_CHARS, NewResourceRequest,
    ResourceSpec,
};
pub use types::{Grade, ItemKey, ItemType, ResourceCode, ShareType, UpdateCycle};

/// What went wrong in a resource declaration; `field` names the offending part
/// the way a client wrote it (`items[2].key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CatalogError {
    pub field: String,
    pub message: String,
}

impl CatalogError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
