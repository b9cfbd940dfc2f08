//! Bringing a batch's report up to date with the repeats the store found in
//! the staged rows (see `rongshu_store::BatchWriter::settle_repeats`): the
//! counts per rule, the rows' standing and the report's first failures and
//! rejects become what checking the repeats while reading would have given.

use rongshu_core::quality::{FailingRow, QualityTally, RuleId, Severity, Violation};
use rongshu_ingest::{Reject, RejectList};
use rongshu_store::{FailureRow, Repeats};

/// Correct `tally` and `rejects` by what finding repeats changed.
pub(crate) fn amend_report(tally: &mut QualityTally, rejects: &mut RejectList, found: Repeats) {
    if !found.changed() {
        return;
    }
    tally.clean_rows = tally
        .clean_rows
        .saturating_sub(found.clean_rejected + found.clean_warned);
    tally.warned_rows =
        (tally.warned_rows + found.clean_warned).saturating_sub(found.warned_rejected);
    tally.rejected_rows += found.newly_rejected();
    for change in &found.rules {
        let count = tally.rules.entry(RuleId::named(&change.rule)).or_default();
        let field = match change.severity {
            Severity::Reject => &mut count.rejected,
            Severity::Warn => &mut count.warned,
        };
        *field = field.saturating_add_signed(change.delta);
    }
    tally.failures = found
        .first_failures
        .iter()
        .take(tally.inline_limit)
        .map(failing_row)
        .collect();
    let added = found.newly_rejected();
    let first = found
        .first_rejects
        .into_iter()
        .map(|f| Reject {
            row: f.row,
            key: f.key,
            item: f.item,
            reason: f.reason,
        })
        .collect();
    rejects.amend(first, added);
}

/// A stored failure as the report lists it. The reader's refusals are
/// counted as a type failure of their item ("row" when none) with an empty
/// value, as the reading loop records them.
fn failing_row(f: &FailureRow) -> FailingRow {
    let refused = f.rule.starts_with("type:");
    FailingRow {
        row: f.row,
        key: f.key.clone(),
        violation: Violation {
            rule: RuleId::named(&f.rule),
            item: if refused {
                Some(f.item.clone().unwrap_or_else(|| "row".into()))
            } else {
                f.item.clone()
            },
            value: if refused {
                Some(String::new())
            } else {
                f.value.clone()
            },
            reason: f.reason.clone(),
            severity: if f.severity == "warn" {
                Severity::Warn
            } else {
                Severity::Reject
            },
        },
    }
}
