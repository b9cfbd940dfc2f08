//! The generic linkage configuration: which columns are compared and how, which
//! blocking rules produce candidate pairs, and the decision thresholds. A
//! [`LinkageSpec`] is what a user writes (JSON or TOML); [`LinkageConfig::parse`]
//! checks it once so the rest of the engine never meets an inconsistent one.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::LinkageError;

/// How two values of a column are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonKind {
    /// A Chinese personal name (surname first).
    ChineseName,
    /// A calendar date in any of the usual written forms.
    Date,
    /// A mobile or fixed-line phone number.
    Phone,
    /// A free-text postal address.
    Address,
    /// Any other value: equal after normalisation or not.
    Exact,
}

/// One comparison level. Each level is a predicate that also holds for closer
/// values (one-char-off includes equal), so a configuration that drops a level never
/// sends an equal pair to "different".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Equal after normalisation (full-width folded, whitespace removed).
    Exact,
    /// Names: the same sound, character by character (王晓明 and 王小明 are
    /// both wang xiao ming), tones ignored; a character with several readings
    /// (a polyphone such as 曾 zeng/ceng) matches on any of them. The usual
    /// slip of a clerk who heard a name rather than read it.
    SamePinyin,
    /// Names: the same characters in any order.
    SameCharacters,
    /// Names: edit distance at most one character.
    OneCharOff,
    /// Names: the same surname (compound surnames such as 欧阳 recognised).
    SurnameOnly,
    /// Dates: the same year with month and day swapped.
    MonthDaySwapped,
    /// Dates: at most one digit different in the canonical `YYYYMMDD` form.
    OneDigitOff,
    /// Phones: the same last eight digits (area code or prefix differs).
    LastEightDigits,
    /// Addresses: one contains the other.
    Contains,
    /// Addresses: Jaccard overlap of character bigrams at least 0.6.
    BigramOverlap,
}

impl ComparisonKind {
    /// The levels a kind understands, closest first; also its default levels.
    pub fn levels(self) -> &'static [Level] {
        match self {
            Self::ChineseName => &[
                Level::Exact,
                Level::SamePinyin,
                Level::SameCharacters,
                Level::OneCharOff,
                Level::SurnameOnly,
            ],
            Self::Date => &[Level::Exact, Level::MonthDaySwapped, Level::OneDigitOff],
            Self::Phone => &[Level::Exact, Level::LastEightDigits],
            Self::Address => &[Level::Exact, Level::Contains, Level::BigramOverlap],
            Self::Exact => &[Level::Exact],
        }
    }
}

/// A compared column as written in a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The column's name in the left table (and in the right one unless
    /// `right_name` says otherwise).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_name: Option<String>,
    pub kind: ComparisonKind,
    /// Ordered levels, closest first; the kind's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<Level>>,
}

/// Rows whose values in all these columns are equal (after the column's
/// normalisation) become candidate pairs. Columns are named as on the left side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingRule {
    pub columns: Vec<String>,
}

/// Decision thresholds on the match probability: at or above `link` a pair is
/// linked, at or above `review` (and below `link`) it goes to clerical review.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub link: f64,
    pub review: f64,
}

/// EM knobs; the seed makes the random-pair sample for u reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmSettings {
    pub max_iterations: usize,
    /// Stop when no parameter moves by more than this between iterations.
    pub tolerance: f64,
    /// How many random pairs estimate the starting u.
    pub u_sample_size: usize,
    pub seed: u64,
    /// Re-estimate u by EM as well. Off by default: blocking makes the non-matches
    /// among candidates agree on the blocking columns far more than random pairs
    /// do (namesakes blocked on name), so EM's u for those columns would be biased
    /// up to where exact agreement looks like evidence against a match. The random
    /// pair frequencies are the population's u; EM then learns m and λ.
    pub estimate_u: bool,
    /// Learn m and λ by EM. Off: score with the starting values (m trusting the
    /// closest level, u from random pairs, λ from the table sizes), e.g. for a
    /// quick first look or tables too small for EM to say anything.
    pub learn: bool,
}

impl Default for EmSettings {
    fn default() -> Self {
        Self {
            max_iterations: 200,
            tolerance: 1e-6,
            u_sample_size: 20_000,
            seed: 0x5eed_0f11_a6e5,
            estimate_u: false,
            learn: true,
        }
    }
}

/// How many links a record may take part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Each left record is linked to at most one right record and each right
    /// record to at most one left record, best score first: one person, one
    /// record (the usual case when both sides hold each person once).
    #[default]
    OneToOne,
    /// Each left record is linked to at most one right record, but a right
    /// record may take several (an extract with several records per person,
    /// such as a marriage and a later divorce, against a registry).
    LeftUnique,
    /// Every pair is decided on its own score.
    All,
}

/// The default cap on the pairs one blocking key may produce.
pub const DEFAULT_MAX_BLOCK_SIZE: usize = 10_000;

fn default_max_block_size() -> usize {
    DEFAULT_MAX_BLOCK_SIZE
}

/// The default number of non-matches kept per left record.
pub const DEFAULT_NON_MATCHES_KEPT: usize = 3;

fn default_non_matches_kept() -> usize {
    DEFAULT_NON_MATCHES_KEPT
}

/// A linkage configuration as written by a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkageSpec {
    pub columns: Vec<ColumnSpec>,
    pub blocking: Vec<BlockingRule>,
    pub thresholds: Thresholds,
    #[serde(default)]
    pub em: EmSettings,
    /// A block (the rows sharing one value of a blocking rule) that would make
    /// more candidate pairs than this (left rows × right rows) is skipped and
    /// reported: one common surname or birth date must not explode the pair
    /// count. Its rows still meet through the other rules.
    #[serde(default = "default_max_block_size")]
    pub max_block_size: usize,
    #[serde(default)]
    pub assignment: Assignment,
    /// Of each left record's candidate pairs scored below review, how many
    /// (the best) the result keeps; the rest are only counted. Links and
    /// review pairs are always kept.
    #[serde(default = "default_non_matches_kept")]
    pub non_matches_kept: usize,
}

/// A compared column after checking: its levels are never empty and all apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub right_name: String,
    pub kind: ComparisonKind,
    pub levels: Vec<Level>,
}

/// A checked configuration; the only way to get one is [`LinkageConfig::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinkageConfig {
    columns: Vec<Column>,
    blocking: Vec<BlockingRule>,
    thresholds: Thresholds,
    em: EmSettings,
    max_block_size: usize,
    assignment: Assignment,
    non_matches_kept: usize,
}

impl LinkageConfig {
    pub fn parse(spec: LinkageSpec) -> Result<Self, LinkageError> {
        if spec.columns.is_empty() {
            return Err(LinkageError::NoColumns);
        }
        let mut names = HashSet::new();
        let mut columns = Vec::with_capacity(spec.columns.len());
        for c in spec.columns {
            if !names.insert(c.name.clone()) {
                return Err(LinkageError::DuplicateColumn(c.name));
            }
            let levels = c.levels.unwrap_or_else(|| c.kind.levels().to_vec());
            if levels.is_empty() {
                return Err(LinkageError::NoLevels(c.name));
            }
            let mut seen = HashSet::new();
            for &level in &levels {
                if !c.kind.levels().contains(&level) {
                    return Err(LinkageError::LevelNotForKind {
                        column: c.name,
                        level,
                        kind: c.kind,
                    });
                }
                if !seen.insert(level) {
                    return Err(LinkageError::DuplicateLevel {
                        column: c.name,
                        level,
                    });
                }
            }
            columns.push(Column {
                right_name: c.right_name.unwrap_or_else(|| c.name.clone()),
                name: c.name,
                kind: c.kind,
                levels,
            });
        }
        if spec.blocking.is_empty() {
            return Err(LinkageError::NoBlockingRules);
        }
        if let Some(i) = spec.blocking.iter().position(|r| r.columns.is_empty()) {
            return Err(LinkageError::EmptyBlockingRule(i));
        }
        let Thresholds { link, review } = spec.thresholds;
        // Written as a positive check so that NaN is refused too.
        if !(0.0 <= review && review <= link && link <= 1.0) {
            return Err(LinkageError::Thresholds { review, link });
        }
        let em = spec.em;
        if em.max_iterations == 0 {
            return Err(LinkageError::EmSettings(
                "max_iterations must be at least 1",
            ));
        }
        if !(em.tolerance > 0.0 && em.tolerance.is_finite()) {
            return Err(LinkageError::EmSettings(
                "tolerance must be a positive number",
            ));
        }
        if em.u_sample_size == 0 {
            return Err(LinkageError::EmSettings("u_sample_size must be at least 1"));
        }
        if spec.max_block_size == 0 {
            return Err(LinkageError::MaxBlockSize);
        }
        Ok(Self {
            columns,
            blocking: spec.blocking,
            thresholds: spec.thresholds,
            em,
            max_block_size: spec.max_block_size,
            assignment: spec.assignment,
            non_matches_kept: spec.non_matches_kept,
        })
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn blocking(&self) -> &[BlockingRule] {
        &self.blocking
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    pub fn em(&self) -> EmSettings {
        self.em
    }

    pub fn max_block_size(&self) -> usize {
        self.max_block_size
    }

    pub fn assignment(&self) -> Assignment {
        self.assignment
    }

    pub fn non_matches_kept(&self) -> usize {
        self.non_matches_kept
    }

    /// The compared column a blocking column refers to, if any, so blocking uses
    /// the same normalisation as comparison.
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LinkageSpec {
        serde_json::from_str(
            r#"{
              "columns": [
                {"name": "name", "kind": "chinese_name"},
                {"name": "birth_date", "kind": "date", "levels": ["exact", "month_day_swapped"]},
                {"name": "phone", "right_name": "mobile", "kind": "phone"}
              ],
              "blocking": [{"columns": ["birth_date"]}, {"columns": ["phone"]}],
              "thresholds": {"link": 0.95, "review": 0.5}
            }"#,
        )
        .unwrap()
    }

    #[test]
    fn a_written_configuration_parses_with_defaults() {
        let config = LinkageConfig::parse(spec()).unwrap();
        assert_eq!(
            config.columns()[0].levels,
            ComparisonKind::ChineseName.levels()
        );
        assert_eq!(
            config.columns()[1].levels,
            [Level::Exact, Level::MonthDaySwapped]
        );
        assert_eq!(config.columns()[2].right_name, "mobile");
        assert_eq!(config.em(), EmSettings::default());
        assert_eq!(config.max_block_size(), DEFAULT_MAX_BLOCK_SIZE);
        assert_eq!(config.assignment(), Assignment::OneToOne);
    }

    #[test]
    fn inconsistent_configurations_are_refused() {
        let mut s = spec();
        s.columns[1].levels = Some(vec![Level::SurnameOnly]);
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::LevelNotForKind { .. })
        ));

        let mut s = spec();
        s.columns[1].levels = Some(vec![Level::Exact, Level::Exact]);
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::DuplicateLevel { .. })
        ));

        let mut s = spec();
        s.columns[1].levels = Some(vec![]);
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::NoLevels(_))
        ));

        let mut s = spec();
        s.columns.push(s.columns[0].clone());
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::DuplicateColumn(_))
        ));

        let mut s = spec();
        s.blocking.clear();
        assert_eq!(LinkageConfig::parse(s), Err(LinkageError::NoBlockingRules));

        let mut s = spec();
        s.blocking.push(BlockingRule { columns: vec![] });
        assert_eq!(
            LinkageConfig::parse(s),
            Err(LinkageError::EmptyBlockingRule(2))
        );

        let mut s = spec();
        s.thresholds = Thresholds {
            link: 0.4,
            review: 0.5,
        };
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::Thresholds { .. })
        ));

        let mut s = spec();
        s.thresholds.link = f64::NAN;
        assert!(matches!(
            LinkageConfig::parse(s),
            Err(LinkageError::Thresholds { .. })
        ));

        let mut s = spec();
        s.columns.clear();
        assert_eq!(LinkageConfig::parse(s), Err(LinkageError::NoColumns));

        let mut s = spec();
        s.max_block_size = 0;
        assert_eq!(LinkageConfig::parse(s), Err(LinkageError::MaxBlockSize));
    }
}
