//! Open data (开放): what a provider releases to the public, the scan that keeps
//! personal values from going out unmasked, and the release's review.

mod pii;
mod plan;
mod release;

pub use pii::{PiiFinding, PiiKind, PiiScanner, ScanReport, find_in_text, is_house_level};
pub use plan::{PlanError, PlanProgress, PlanStatus, check_entry};
pub use release::{
    ReleaseError, ReleaseName, ReleaseOpenType, ReleaseState, ReleaseView, ReleasedItem, Treatment,
    ViewFilter, blocking_items, check_view, released_items,
};
