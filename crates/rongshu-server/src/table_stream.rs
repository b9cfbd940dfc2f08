//! Writing a table of records as CSV or a JSON array one page at a time, so
//! the data API's exports and open-data downloads send any number of rows in
//! flat memory: a source hands out pages, this turns each into one chunk.

use std::future::Future;

use futures_util::{Stream, stream};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// How the rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// RFC 4180 CSV in UTF-8, exactly the values.
    Csv,
    /// CSV for spreadsheet users: a UTF-8 byte order mark (so Excel reads the
    /// Chinese right) and every cell a formula could start from made text.
    SpreadsheetCsv,
    /// One JSON array of objects.
    Json,
}

/// One page from a source: its records, and whether another follows.
pub struct Page {
    pub records: Vec<Map<String, Value>>,
    pub more: bool,
}

/// Where the pages come from; each is read only when the client is ready.
pub trait PageSource: Send + 'static {
    fn next_page(&mut self) -> impl Future<Output = Result<Page, ApiError>> + Send;
    /// What is being streamed, for the log when a page fails.
    fn label(&self) -> String;
}

/// The chunks of a table: the opening (BOM and header, or `[`) with the first
/// page, one chunk per page, and the closing with the last.
pub struct PageWriter {
    encoding: Encoding,
    fields: Vec<String>,
    started: bool,
    /// Whether a JSON record was written (a comma goes before the next).
    any_record: bool,
}

impl PageWriter {
    pub fn new(encoding: Encoding, fields: Vec<String>) -> Self {
        Self {
            encoding,
            fields,
            started: false,
            any_record: false,
        }
    }

    fn open(&mut self, chunk: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        match self.encoding {
            Encoding::Csv => chunk.push_str(&csv_line(self.fields.iter().map(String::as_str))),
            Encoding::SpreadsheetCsv => {
                chunk.push('\u{feff}');
                let header: Vec<String> = self
                    .fields
                    .iter()
                    .map(|f| spreadsheet_safe(f).into_owned())
                    .collect();
                chunk.push_str(&csv_line(header.iter().map(String::as_str)));
            }
            Encoding::Json => chunk.push('['),
        }
    }

    /// One page's chunk (with the opening, on the first call).
    pub fn page(&mut self, records: impl IntoIterator<Item = Map<String, Value>>) -> String {
        let mut chunk = String::new();
        self.open(&mut chunk);
        for record in records {
            match self.encoding {
                Encoding::Csv | Encoding::SpreadsheetCsv => {
                    let spreadsheet = self.encoding == Encoding::SpreadsheetCsv;
                    let cells: Vec<String> = self
                        .fields
                        .iter()
                        .map(|f| {
                            let text = cell_text(record.get(f));
                            if spreadsheet {
                                spreadsheet_safe(&text).into_owned()
                            } else {
                                text
                            }
                        })
                        .collect();
                    chunk.push_str(&csv_line(cells.iter().map(String::as_str)));
                }
                Encoding::Json => {
                    if self.any_record {
                        chunk.push(',');
                    }
                    self.any_record = true;
                    chunk.push_str(&Value::Object(record).to_string());
                }
            }
        }
        chunk
    }

    /// The end of the table (the opening too, if no page was written).
    pub fn finish(&mut self) -> String {
        let mut chunk = String::new();
        self.open(&mut chunk);
        if self.encoding == Encoding::Json {
            chunk.push(']');
        }
        chunk
    }
}

struct Cursor<S> {
    source: S,
    writer: PageWriter,
    done: bool,
}

/// The table as a body stream: one page read per chunk sent.
pub fn stream_pages<S: PageSource>(
    source: S,
    writer: PageWriter,
) -> impl Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    let cursor = Cursor {
        source,
        writer,
        done: false,
    };
    stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let page = match c.source.next_page().await {
            Ok(page) => page,
            Err(e) => {
                // Headers are sent already: cutting the stream is the only way
                // left to tell the client the table is incomplete.
                tracing::error!(error = ?e, table = %c.source.label(), "a streamed page failed");
                c.done = true;
                return Some((Err(std::io::Error::other("the table could not be read")), c));
            }
        };
        let mut chunk = c.writer.page(page.records);
        if !page.more {
            c.done = true;
            chunk.push_str(&c.writer.finish());
        }
        Some((Ok(chunk), c))
    })
}

/// A cell as text: strings as they are, empty for none, numbers as JSON writes them.
pub fn cell_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let cells: Vec<String> = cells.map(csv_cell).collect();
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

/// RFC 4180 quoting: a cell with a comma, quote or line break is quoted.
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Formula injection: a spreadsheet runs a cell starting with `=`, `+`, `-`
/// or `@` as a formula (`=HYPERLINK(...)` from a public dataset would run on
/// the reader's machine), so in the CSV meant for spreadsheets such a cell
/// is prefixed with `'`, which makes it text. The plain CSV keeps exact values
/// for programs, which do not evaluate cells.
fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(csv_cell("锦江区"), "锦江区");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn only_the_spreadsheet_csv_has_a_bom_and_defuses_formulas() {
        let fields = vec!["a".to_owned(), "b".to_owned()];
        let rows = || {
            vec![
                record(json!({"a": "=1+1", "b": -3})),
                record(json!({"a": "@x", "b": "ok"})),
            ]
        };
        let mut plain = PageWriter::new(Encoding::Csv, fields.clone());
        let text = plain.page(rows()) + &plain.finish();
        assert_eq!(text, "a,b\r\n=1+1,-3\r\n@x,ok\r\n");
        let mut sheet = PageWriter::new(Encoding::SpreadsheetCsv, fields);
        let text = sheet.page(rows()) + &sheet.finish();
        assert_eq!(text, "\u{feff}a,b\r\n'=1+1,'-3\r\n'@x,ok\r\n");
    }

    #[test]
    fn json_pages_make_one_array() {
        let mut w = PageWriter::new(Encoding::Json, vec!["a".into()]);
        let mut text = w.page(vec![record(json!({"a": 1}))]);
        text.push_str(&w.page(Vec::new()));
        text.push_str(&w.page(vec![record(json!({"a": 2}))]));
        text.push_str(&w.finish());
        assert_eq!(text, r#"[{"a":1},{"a":2}]"#);
        let mut empty = PageWriter::new(Encoding::Json, Vec::new());
        assert_eq!(empty.finish(), "[]");
    }
}
