//! The national core metadata beyond items: classification (类/项/目/细目),
//! resource kind, format, share mode, open type and the priority topics
//! (政务信息资源目录编制指南).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The nine domains the city opens first (重点开放领域).
pub const PRIORITY_TOPICS: [&str; 9] = [
    "交通服务",
    "教育科技",
    "医疗卫生",
    "空间地理",
    "公共安全",
    "金融服务",
    "市场监管",
    "能源环境",
    "文化娱乐",
];

/// 资源类型: the first digit of the classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// 基础信息资源: population, legal entities, natural resources and geography,
    /// social credit, e-licences.
    Base,
    /// 主题信息资源: public services, social security, credit, …
    Theme,
    /// 部门信息资源: what one department holds for its own work.
    Department,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [
        ResourceKind::Base,
        ResourceKind::Theme,
        ResourceKind::Department,
    ];

    pub fn digit(self) -> u8 {
        match self {
            ResourceKind::Base => 1,
            ResourceKind::Theme => 2,
            ResourceKind::Department => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Base => "base",
            ResourceKind::Theme => "theme",
            ResourceKind::Department => "department",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ResourceKind::Base => "基础信息资源",
            ResourceKind::Theme => "主题信息资源",
            ResourceKind::Department => "部门信息资源",
        }
    }

    /// From the code (`base`) or the Chinese label (`基础`, `基础信息资源`).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        ResourceKind::ALL
            .into_iter()
            .find(|k| raw == k.as_str() || raw == k.label_zh() || raw == &k.label_zh()[..6])
    }

    fn from_digit(d: u8) -> Option<Self> {
        ResourceKind::ALL.into_iter().find(|k| k.digit() == d)
    }
}

/// 资源分类: 类 (1 digit: the kind) / 项 (2) / 目 (3) / 细目 (3, optional),
/// written `1-01-001` or `1-01-001-002`; the compact form `101001` leads the
/// resource code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    kind: ResourceKind,
    item: u8,
    subitem: u16,
    detail: Option<u16>,
}

impl Classification {
    /// The class of a resource whose provider did not classify it: 项 99 and 目
    /// 999 are "other", which the review page points out.
    pub fn unclassified(kind: ResourceKind) -> Self {
        Self {
            kind,
            item: 99,
            subitem: 999,
            detail: None,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits: String = raw
            .chars()
            .filter(|c| *c != '-' && *c != '/' && *c != ' ')
            .collect();
        let bad = || {
            format!(
                "\"{raw}\" is not a classification: write 类-项-目 or 类-项-目-细目, e.g. 1-01-001"
            )
        };
        if !(digits.len() == 6 || digits.len() == 9) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u16>().map_err(|_| bad());
        let kind = ResourceKind::from_digit(num(0..1)? as u8).ok_or_else(|| {
            format!("\"{raw}\": the first digit (类) is 1 基础, 2 主题 or 3 部门")
        })?;
        let item = num(1..3)? as u8;
        let subitem = num(3..6)?;
        let detail = if digits.len() == 9 {
            Some(num(6..9)?)
        } else {
            None
        };
        if item == 0 || subitem == 0 || detail == Some(0) {
            return Err(format!("\"{raw}\": 项, 目 and 细目 start at 1"));
        }
        Ok(Self {
            kind,
            item,
            subitem,
            detail,
        })
    }

    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    /// `101001` or `101001002`: the front part of a resource code.
    pub fn compact(&self) -> String {
        let mut s = format!("{}{:02}{:03}", self.kind.digit(), self.item, self.subitem);
        if let Some(d) = self.detail {
            s.push_str(&format!("{d:03}"));
        }
        s
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{:02}-{:03}",
            self.kind.digit(),
            self.item,
            self.subitem
        )?;
        if let Some(d) = self.detail {
            write!(f, "-{d:03}")?;
        }
        Ok(())
    }
}

impl Serialize for Classification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Classification {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Classification::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Declares a small enum with its code names and Chinese labels, parsed from either.
macro_rules! labelled_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal / $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// From the code or the Chinese label.
            pub fn parse(raw: &str) -> Option<Self> {
                let raw = raw.trim();
                Self::ALL.iter().copied().find(|v| raw == v.as_str() || raw == v.label_zh())
            }

            /// The accepted codes, for error messages.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

labelled_enum!(
    /// 资源格式.
    Format {
        ElectronicFile = "file" / "电子文件",
        Spreadsheet = "spreadsheet" / "电子表格",
        Database = "database" / "数据库",
        Image = "image" / "图形图像",
        Streaming = "streaming" / "流媒体",
        SelfDescribing = "self_describing" / "自描述格式",
    }
);

labelled_enum!(
    /// 共享方式: how consumers receive shared data.
    ShareMode {
        Interface = "interface" / "平台接口",
        File = "file" / "文件下载",
        Database = "database" / "数据库交换",
    }
);

labelled_enum!(
    /// 开放类型.
    OpenType {
        Open = "open" / "无条件开放",
        Conditional = "conditional" / "有条件开放",
        Closed = "closed" / "不予开放",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifications_parse_in_both_forms_and_print_dashed() {
        let c = Classification::parse("101001").unwrap();
        assert_eq!(c.to_string(), "1-01-001");
        assert_eq!(c.kind(), ResourceKind::Base);
        let c = Classification::parse("2-03-004-005").unwrap();
        assert_eq!(
            (c.compact().as_str(), c.kind()),
            ("203004005", ResourceKind::Theme)
        );
        for bad in ["", "4-01-001", "1-00-001", "1-01", "x-01-001", "1-01-001-0"] {
            assert!(Classification::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labelled_values_parse_from_code_or_chinese() {
        assert_eq!(Format::parse("电子表格"), Some(Format::Spreadsheet));
        assert_eq!(OpenType::parse("closed"), Some(OpenType::Closed));
        assert_eq!(ResourceKind::parse("基础"), Some(ResourceKind::Base));
        assert_eq!(ShareMode::parse("ftp"), None);
    }
}
