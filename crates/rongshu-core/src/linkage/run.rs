//! One linkage run end to end: block, estimate, score.

use serde::{Deserialize, Serialize};

use super::blocking::block;
use super::config::LinkageConfig;
use super::em::{EmReport, estimate_with};
use super::error::LinkageError;
use super::pattern::Comparator;
use super::score::{ScoredPair, score_with};
use super::table::Table;

/// The result of a run: the EM report (so a reviewer can see m and u) and every
/// candidate pair scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkageRun {
    pub em: EmReport,
    pub pairs: Vec<ScoredPair>,
}

/// Links `left` to `right` under `config`.
pub fn link(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
) -> Result<LinkageRun, LinkageError> {
    let candidates = block(config, left, right)?;
    // One comparator for both passes: the values are canonicalised once.
    let comparator = Comparator::new(config, left, right)?;
    let em = estimate_with(&comparator, config.em(), &candidates)?;
    let pairs = score_with(
        &comparator,
        config.thresholds(),
        &em.parameters,
        left,
        right,
        &candidates,
    )?;
    Ok(LinkageRun { em, pairs })
}
