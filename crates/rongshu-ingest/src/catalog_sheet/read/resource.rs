//! One resource's rows turned into a declaration and checked, each problem
//! placed at the row and column it came from.

use rongshu_core::catalog::{
    CatalogError, Classification, Format, ItemRequest, NewResourceRequest, OpenType, ResourceCode,
    ResourceKind, ResourceSpec, ShareMode,
};

use super::super::ImportedEntry;
use super::super::columns::Column;
use super::super::values::{
    item_type, item_type_labels, labels, parse_whole, parse_yes_no, share_type, share_type_labels,
    split_list, update_cycle, update_cycle_labels,
};
use super::Problems;
use super::rows::{Header, Row};

/// The columns read once per resource; 发布日期, 状态 and 版本 are the
/// platform's to assign, so an import ignores them.
const RESOURCE_COLUMNS: [Column; 19] = [
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
];

/// One resource's rows, with its resource-level values settled.
pub(super) struct Resource<'a> {
    rows: Vec<&'a Row>,
    header: &'a Header,
    /// Each resource-level value and the row it was read from.
    values: Vec<Option<(&'a str, u32)>>,
    /// Problems found in this resource's cells before the declaration is checked.
    faults: usize,
}

impl<'a> Resource<'a> {
    pub(super) fn new(
        rows: &[&'a Row],
        header: &'a Header,
        problems: &mut Problems,
    ) -> Resource<'a> {
        let mut resource = Resource {
            rows: rows.to_vec(),
            header,
            values: vec![None; Column::COUNT],
            faults: 0,
        };
        for column in RESOURCE_COLUMNS {
            for row in rows {
                let Some(value) = row.get(column) else {
                    continue;
                };
                match resource.values[column.index()] {
                    None => resource.values[column.index()] = Some((value, row.number)),
                    Some((first, first_row))
                        if canonical(column, first) != canonical(column, value) =>
                    {
                        resource.fault(
                            problems,
                            row.number,
                            column,
                            format!(
                                "\"{value}\" differs from \"{first}\" in row {first_row}; the rows of one resource must agree"
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        resource
    }

    fn first_row(&self) -> u32 {
        self.rows.first().map_or(0, |r| r.number)
    }

    fn fault(&mut self, problems: &mut Problems, row: u32, column: Column, message: String) {
        self.faults += 1;
        problems.push(row, Some(self.header.label(column)), message);
    }

    fn value(&self, column: Column) -> Option<&'a str> {
        self.values[column.index()].map(|(v, _)| v)
    }

    /// The row a resource-level value came from, or the resource's first row.
    fn row_of(&self, column: Column) -> u32 {
        self.values[column.index()].map_or(self.first_row(), |(_, row)| row)
    }

    /// A resource-level enumeration as its code, or a fault naming the labels.
    fn choice<T>(
        &mut self,
        problems: &mut Problems,
        column: Column,
        parse: impl Fn(&str) -> Option<T>,
        code: impl Fn(T) -> &'static str,
        accepted: impl Fn() -> String,
    ) -> Option<String> {
        let raw = self.value(column)?;
        match parse(raw) {
            Some(v) => Some(code(v).to_owned()),
            None => {
                let row = self.row_of(column);
                let message = format!("\"{raw}\" is not one of {}", accepted());
                self.fault(problems, row, column, message);
                None
            }
        }
    }

    fn whole(
        &mut self,
        problems: &mut Problems,
        row: u32,
        column: Column,
        raw: Option<&str>,
    ) -> Option<i64> {
        let raw = raw?;
        let n = parse_whole(raw);
        if n.is_none() {
            self.fault(
                problems,
                row,
                column,
                format!("\"{raw}\" is not a whole number"),
            );
        }
        n
    }

    fn list(&self, column: Column) -> Vec<String> {
        self.value(column).map(split_list).unwrap_or_default()
    }

    fn request(&mut self, problems: &mut Problems) -> NewResourceRequest {
        let text = |c: Column| self.value(c).map(str::to_owned);
        let mut req = NewResourceRequest {
            name: text(Column::Name),
            summary: text(Column::Summary).unwrap_or_default(),
            classification: text(Column::Classification),
            share_condition: text(Column::ShareCondition),
            open_condition: text(Column::OpenCondition),
            topics: self.list(Column::Topics),
            keywords: self.list(Column::Keywords),
            related: self.list(Column::Related),
            key_items: self.list(Column::KeyItems),
            ..NewResourceRequest::default()
        };
        req.kind = self.choice(
            problems,
            Column::Kind,
            ResourceKind::parse,
            ResourceKind::as_str,
            || labels(ResourceKind::ALL.map(|k| (k.label_zh(), k.as_str()))),
        );
        req.format = self.choice(
            problems,
            Column::Format,
            Format::parse,
            Format::as_str,
            || labels(Format::ALL.iter().map(|f| (f.label_zh(), f.as_str()))),
        );
        req.share_type = self.choice(
            problems,
            Column::ShareType,
            share_type,
            |t| t.as_str(),
            share_type_labels,
        );
        req.share_mode = self.choice(
            problems,
            Column::ShareMode,
            ShareMode::parse,
            ShareMode::as_str,
            || labels(ShareMode::ALL.iter().map(|m| (m.label_zh(), m.as_str()))),
        );
        req.open_type = self.choice(
            problems,
            Column::OpenType,
            OpenType::parse,
            OpenType::as_str,
            || labels(OpenType::ALL.iter().map(|o| (o.label_zh(), o.as_str()))),
        );
        req.update_cycle = self.choice(
            problems,
            Column::UpdateCycle,
            update_cycle,
            |c| c.as_str(),
            update_cycle_labels,
        );
        let (grade_row, grade) = (self.row_of(Column::Grade), self.value(Column::Grade));
        req.grade = self.whole(problems, grade_row, Column::Grade, grade);
        let rows = self.rows.clone();
        req.items = rows.iter().map(|row| self.item(problems, row)).collect();
        req
    }

    fn item(&mut self, problems: &mut Problems, row: &Row) -> ItemRequest {
        let text = |c: Column| row.get(c).map(str::to_owned);
        let item_type = row
            .get(Column::ItemType)
            .and_then(|raw| match item_type(raw) {
                Some(t) => Some(t.as_str().to_owned()),
                None => {
                    let message = format!("\"{raw}\" is not one of {}", item_type_labels());
                    self.fault(problems, row.number, Column::ItemType, message);
                    None
                }
            });
        let length = self
            .whole(
                problems,
                row.number,
                Column::ItemLength,
                row.get(Column::ItemLength),
            )
            .and_then(|n| match u32::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    let message = format!("{n} is not a length");
                    self.fault(problems, row.number, Column::ItemLength, message);
                    None
                }
            });
        let grade = self.whole(
            problems,
            row.number,
            Column::ItemGrade,
            row.get(Column::ItemGrade),
        );
        let required = match row
            .get(Column::ItemRequired)
            .map(|raw| (raw, parse_yes_no(raw)))
        {
            None => false,
            Some((_, Some(b))) => b,
            Some((raw, None)) => {
                let message = format!("\"{raw}\" is neither 是 nor 否");
                self.fault(problems, row.number, Column::ItemRequired, message);
                false
            }
        };
        ItemRequest {
            key: text(Column::ItemKey),
            name: text(Column::ItemName),
            item_type,
            length,
            required,
            grade,
            kind: text(Column::ItemKind),
            element: text(Column::ItemElement),
            description: text(Column::ItemDescription).unwrap_or_default(),
        }
    }

    /// The checked entry, or `None` with every problem found recorded.
    pub(super) fn build(mut self, problems: &mut Problems) -> Option<ImportedEntry> {
        let code = self.value(Column::Code).map(str::to_owned);
        if let Some(raw) = &code
            && let Err(message) = ResourceCode::parse(raw)
        {
            let row = self.row_of(Column::Code);
            self.fault(problems, row, Column::Code, message);
        }
        let provider_code = self.value(Column::ProviderCode).map(str::to_owned);
        if provider_code.is_none() {
            let row = self.first_row();
            self.fault(
                problems,
                row,
                Column::ProviderCode,
                "the resource has no provider code".into(),
            );
        }
        let request = self.request(problems);
        if self.faults > 0 {
            // The declaration check would stop at one of the faults already listed.
            return None;
        }
        match ResourceSpec::parse(request) {
            Ok(spec) => Some(ImportedEntry {
                first_row: self.first_row(),
                code,
                provider_code: provider_code.unwrap_or_default(),
                provider_name: self.value(Column::ProviderName).map(str::to_owned),
                spec,
            }),
            Err(e) => {
                let (row, column) = self.place(&e);
                problems.push(row, column.map(|c| self.header.label(c)), e.message);
                None
            }
        }
    }

    /// Where in the sheet a declaration error belongs: `items[i].x` at item
    /// i's row, anything else at the row its value came from.
    fn place(&self, e: &CatalogError) -> (u32, Option<Column>) {
        if let Some((index, field)) = item_field(&e.field) {
            let row = self.rows.get(index).map_or(self.first_row(), |r| r.number);
            let column = match field {
                "key" => Column::ItemKey,
                "name" => Column::ItemName,
                "type" => Column::ItemType,
                "length" => Column::ItemLength,
                "grade" => Column::ItemGrade,
                "kind" => Column::ItemKind,
                "element" => Column::ItemElement,
                "description" => Column::ItemDescription,
                _ => return (row, None),
            };
            return (row, Some(column));
        }
        let base = e.field.split('[').next().unwrap_or_default();
        if base == "items" {
            return (self.first_row(), Some(Column::ItemKey));
        }
        match RESOURCE_COLUMNS.into_iter().find(|c| c.code() == base) {
            Some(column) => (self.row_of(column), Some(column)),
            None => (self.first_row(), None),
        }
    }
}

/// `items[3].grade` → `(3, "grade")`.
fn item_field(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("items[")?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest.strip_prefix('.')?))
}

/// A resource-level value as compared between rows: 无条件共享 and
/// unconditional agree, as do `a；b` and `a,b`.
fn canonical(column: Column, raw: &str) -> String {
    let code = match column {
        Column::Kind => ResourceKind::parse(raw).map(|k| k.as_str().to_owned()),
        Column::Format => Format::parse(raw).map(|f| f.as_str().to_owned()),
        Column::ShareType => share_type(raw).map(|t| t.as_str().to_owned()),
        Column::ShareMode => ShareMode::parse(raw).map(|m| m.as_str().to_owned()),
        Column::OpenType => OpenType::parse(raw).map(|o| o.as_str().to_owned()),
        Column::UpdateCycle => update_cycle(raw).map(|c| c.as_str().to_owned()),
        Column::Classification => Classification::parse(raw).ok().map(|c| c.to_string()),
        Column::Grade => parse_whole(raw).map(|g| g.to_string()),
        Column::Topics | Column::Keywords | Column::Related | Column::KeyItems => {
            Some(split_list(raw).join("\n"))
        }
        _ => None,
    };
    code.unwrap_or_else(|| raw.to_owned())
}
