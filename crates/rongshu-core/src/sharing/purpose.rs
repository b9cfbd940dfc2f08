//! 共享用途: why a consumer wants the data, in the four kinds the rules name.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 行政依据: the data is the basis of an administrative act.
    AdministrativeBasis,
    /// 工作参考: background for the consumer's work.
    WorkReference,
    /// 数据校核: checking the consumer's own data against the provider's.
    DataVerification,
    /// 业务协同: a joint process between departments.
    BusinessCollaboration,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [
        Purpose::AdministrativeBasis,
        Purpose::WorkReference,
        Purpose::DataVerification,
        Purpose::BusinessCollaboration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::AdministrativeBasis => "administrative_basis",
            Purpose::WorkReference => "work_reference",
            Purpose::DataVerification => "data_verification",
            Purpose::BusinessCollaboration => "business_collaboration",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Purpose::AdministrativeBasis => "行政依据",
            Purpose::WorkReference => "工作参考",
            Purpose::DataVerification => "数据校核",
            Purpose::BusinessCollaboration => "业务协同",
        }
    }

    /// Accepts the code name or the Chinese label, as forms and clients write it.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == raw || p.label_zh() == raw)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_chinese_labels_and_round_trips() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
            assert_eq!(Purpose::parse(p.label_zh()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Purpose::parse("curiosity"), None);
    }
}
