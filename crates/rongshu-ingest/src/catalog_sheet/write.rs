//! Writing the catalog as the office's spreadsheet (XLSX) or as CSV: one row per
//! data item, the resource's fields repeated on each of its rows.

use std::io::Write;

use rongshu_core::catalog::ResourceKind;
use rust_xlsxwriter::{Format, Workbook};

use super::columns::Column;
use super::values::{item_type_label, join_list, share_type, update_cycle, yes_no};
use super::{CatalogEntry, SHEET_NAME, SheetError};

/// One cell of the export.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    fn opt(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }
}

/// The rows of one entry, each indexed by [`Column::index`].
fn entry_rows(entry: &CatalogEntry) -> Vec<Vec<Cell>> {
    let spec = &entry.spec;
    // `to_request` leaves out what was defaulted, so an empty cell re-imports
    // as a default and the round trip keeps `defaulted` as it was.
    let req = spec.to_request();
    let mut resource = vec![Cell::Empty; Column::COUNT];
    let mut set = |c: Column, cell: Cell| resource[c.index()] = cell;
    set(Column::Code, Cell::text(&entry.code));
    set(Column::Name, Cell::text(&spec.name));
    set(Column::Classification, Cell::opt(req.classification));
    set(
        Column::Kind,
        Cell::opt(
            req.kind
                .as_deref()
                .and_then(ResourceKind::parse)
                .map(ResourceKind::label_zh),
        ),
    );
    set(Column::ProviderCode, Cell::text(&entry.provider_code));
    set(Column::ProviderName, Cell::text(&entry.provider_name));
    set(Column::Summary, Cell::text(&spec.summary));
    set(
        Column::Format,
        Cell::opt(req.format.map(|_| spec.format.label_zh())),
    );
    set(
        Column::ShareType,
        Cell::opt(
            req.share_type
                .as_deref()
                .and_then(share_type)
                .map(|t| t.label_zh()),
        ),
    );
    set(Column::ShareCondition, Cell::opt(req.share_condition));
    set(
        Column::ShareMode,
        Cell::opt(req.share_mode.map(|_| spec.share_mode.label_zh())),
    );
    set(
        Column::OpenType,
        Cell::opt(req.open_type.map(|_| spec.open_type.label_zh())),
    );
    set(Column::OpenCondition, Cell::opt(req.open_condition));
    set(
        Column::UpdateCycle,
        Cell::opt(
            req.update_cycle
                .as_deref()
                .and_then(update_cycle)
                .map(|c| c.label_zh()),
        ),
    );
    set(Column::Grade, Cell::Number(f64::from(spec.grade.value())));
    set(Column::Topics, Cell::text(join_list(&req.topics)));
    set(Column::Keywords, Cell::text(join_list(&req.keywords)));
    set(Column::Related, Cell::text(join_list(&req.related)));
    set(Column::KeyItems, Cell::text(join_list(&req.key_items)));
    set(
        Column::PublishDate,
        Cell::opt(entry.publish_date.as_deref()),
    );
    set(Column::Status, Cell::text(&entry.status));
    // Versions are small counters; f64 holds them exactly.
    set(Column::Version, Cell::Number(entry.version as f64));

    spec.items
        .iter()
        .zip(req.items)
        .map(|(item, raw)| {
            let mut row = resource.clone();
            let mut set = |c: Column, cell: Cell| row[c.index()] = cell;
            set(Column::ItemKey, Cell::text(item.key.as_str()));
            set(Column::ItemName, Cell::text(&item.name));
            set(
                Column::ItemType,
                Cell::text(item_type_label(item.item_type)),
            );
            set(
                Column::ItemLength,
                item.length
                    .map_or(Cell::Empty, |l| Cell::Number(f64::from(l))),
            );
            set(
                Column::ItemGrade,
                Cell::Number(f64::from(item.grade.value())),
            );
            set(Column::ItemRequired, Cell::text(yes_no(item.required)));
            set(Column::ItemKind, Cell::opt(raw.kind));
            set(
                Column::ItemElement,
                Cell::opt(item.element.as_ref().map(|e| e.as_str())),
            );
            set(Column::ItemDescription, Cell::text(&item.description));
            row
        })
        .collect()
}

/// The whole catalog (or the part given) as an XLSX workbook with one sheet,
/// 资源目录, its header row bold and frozen.
pub fn write_xlsx(entries: &[CatalogEntry]) -> Result<Vec<u8>, SheetError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET_NAME)?;
    let bold = Format::new().set_bold();
    for (col, column) in (0u16..).zip(Column::ALL) {
        sheet.write_string_with_format(0, col, column.header(), &bold)?;
        sheet.set_column_width(col, column.width())?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let rows = entries.iter().flat_map(entry_rows);
    for (row, cells) in (1u32..).zip(rows) {
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => {
                    sheet.write_string(row, col, s)?;
                }
                Cell::Number(n) => {
                    sheet.write_number(row, col, n)?;
                }
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// The same rows and columns as [`write_xlsx`], as UTF-8 CSV with a byte-order
/// mark so that Excel opens the Chinese text correctly.
pub fn write_csv<W: Write>(entries: &[CatalogEntry], mut out: W) -> Result<(), SheetError> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(Column::ALL.map(Column::header))?;
    for entry in entries {
        for cells in entry_rows(entry) {
            csv.write_record(cells.into_iter().map(|cell| match cell {
                Cell::Empty => String::new(),
                Cell::Text(s) => defuse_formula(s),
                Cell::Number(n) => super::values::number_text(n),
            }))?;
        }
    }
    csv.flush()?;
    Ok(())
}

/// Text a spreadsheet would run as a formula when it opens the CSV (CSV
/// injection) gets a leading apostrophe; the XLSX export stores text cells, so
/// there the value stays as it is.
fn defuse_formula(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}
