//! The columns of the catalog sheet, in export order, and how a header cell a
//! person typed is recognised as one of them.

/// One column of the sheet. Resource-level columns come first; the `Item*`
/// columns describe the row's own data item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Column {
    Code,
    Name,
    Classification,
    Kind,
    ProviderCode,
    ProviderName,
    Summary,
    Format,
    ShareType,
    ShareCondition,
    ShareMode,
    OpenType,
    OpenCondition,
    UpdateCycle,
    Grade,
    Topics,
    Keywords,
    Related,
    KeyItems,
    PublishDate,
    Status,
    Version,
    ItemKey,
    ItemName,
    ItemType,
    ItemLength,
    ItemGrade,
    ItemRequired,
    ItemKind,
    ItemElement,
    ItemDescription,
}

impl Column {
    pub(crate) const COUNT: usize = 31;

    pub(crate) const ALL: [Column; Column::COUNT] = [
        Column::Code,
        Column::Name,
        Column::Classification,
        Column::Kind,
        Column::ProviderCode,
        Column::ProviderName,
        Column::Summary,
        Column::Format,
        Column::ShareType,
        Column::ShareCondition,
        Column::ShareMode,
        Column::OpenType,
        Column::OpenCondition,
        Column::UpdateCycle,
        Column::Grade,
        Column::Topics,
        Column::Keywords,
        Column::Related,
        Column::KeyItems,
        Column::PublishDate,
        Column::Status,
        Column::Version,
        Column::ItemKey,
        Column::ItemName,
        Column::ItemType,
        Column::ItemLength,
        Column::ItemGrade,
        Column::ItemRequired,
        Column::ItemKind,
        Column::ItemElement,
        Column::ItemDescription,
    ];

    /// Without a header cell for one of these a sheet cannot be read at all.
    pub(crate) const REQUIRED: [Column; 3] = [Column::Name, Column::ProviderCode, Column::ItemKey];

    /// The position in [`Column::ALL`], for per-row arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn code(self) -> &'static str {
        self.names().1
    }

    pub(crate) fn label_zh(self) -> &'static str {
        self.names().0
    }

    /// The header as exported: `共享类型 (share_type)`.
    pub(crate) fn header(self) -> String {
        format!("{} ({})", self.label_zh(), self.code())
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Column::Code => ("资源代码", "code"),
            Column::Name => ("资源名称", "name"),
            Column::Classification => ("资源分类", "classification"),
            Column::Kind => ("资源类型", "kind"),
            Column::ProviderCode => ("提供方代码", "provider_code"),
            Column::ProviderName => ("提供方名称", "provider_name"),
            Column::Summary => ("资源摘要", "summary"),
            Column::Format => ("资源格式", "format"),
            Column::ShareType => ("共享类型", "share_type"),
            Column::ShareCondition => ("共享条件", "share_condition"),
            Column::ShareMode => ("共享方式", "share_mode"),
            Column::OpenType => ("开放类型", "open_type"),
            Column::OpenCondition => ("开放条件", "open_condition"),
            Column::UpdateCycle => ("更新周期", "update_cycle"),
            Column::Grade => ("资源分级", "grade"),
            Column::Topics => ("主题", "topics"),
            Column::Keywords => ("关键词", "keywords"),
            Column::Related => ("关联资源代码", "related"),
            Column::KeyItems => ("主键", "key_items"),
            Column::PublishDate => ("发布日期", "publish_date"),
            Column::Status => ("状态", "status"),
            Column::Version => ("版本", "version"),
            Column::ItemKey => ("信息项标识", "item_key"),
            Column::ItemName => ("信息项名称", "item_name"),
            Column::ItemType => ("数据类型", "item_type"),
            Column::ItemLength => ("数据长度", "item_length"),
            Column::ItemGrade => ("信息项分级", "item_grade"),
            Column::ItemRequired => ("必填", "item_required"),
            Column::ItemKind => ("信息项类别", "item_kind"),
            Column::ItemElement => ("数据元", "item_element"),
            Column::ItemDescription => ("信息项描述", "item_description"),
        }
    }

    /// A display width in Excel character units: room for the header (CJK
    /// characters count double) and more for the columns that hold prose.
    pub(crate) fn width(self) -> f64 {
        let header: usize = self
            .header()
            .chars()
            .map(|c| if c.is_ascii() { 1 } else { 2 })
            .sum();
        let prose = match self {
            Column::Summary => 48,
            Column::Name | Column::ShareCondition | Column::OpenCondition => 28,
            Column::ItemDescription => 32,
            Column::ProviderName | Column::Keywords | Column::Topics => 20,
            _ => 0,
        };
        // Header widths are a few dozen units, so the conversion is exact.
        header.max(prose) as f64 + 2.0
    }

    /// Recognise a header cell: the full label (`共享类型 (share_type)`, with
    /// ASCII or full-width brackets), the Chinese part alone, or the code alone.
    pub(crate) fn from_header(raw: &str) -> Option<Column> {
        let raw = raw.trim();
        let (zh, code) = match raw.find(['(', '（']) {
            Some(open) => {
                let inner = raw[open..]
                    .trim_start_matches(['(', '（'])
                    .trim_end_matches([')', '）'])
                    .trim();
                (raw[..open].trim(), Some(inner))
            }
            None => (raw, None),
        };
        Column::ALL.into_iter().find(|c| {
            let code_matches = |s: &str| s.eq_ignore_ascii_case(c.code());
            match code {
                Some(inner) => code_matches(inner) && (zh.is_empty() || zh == c.label_zh()),
                None => zh == c.label_zh() || code_matches(zh),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, c) in Column::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn headers_are_recognised_in_every_accepted_form() {
        for raw in [
            "共享类型 (share_type)",
            "共享类型(share_type)",
            "共享类型（share_type）",
            "共享类型",
            "share_type",
            " SHARE_TYPE ",
        ] {
            assert_eq!(Column::from_header(raw), Some(Column::ShareType), "{raw}");
        }
        for c in Column::ALL {
            assert_eq!(Column::from_header(&c.header()), Some(c));
        }
        assert_eq!(Column::from_header("备注"), None);
        assert_eq!(Column::from_header("开放类型 (share_type)"), None);
    }
}
