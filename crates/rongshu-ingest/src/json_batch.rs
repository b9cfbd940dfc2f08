//! A JSON batch read row by row: either one top-level array of objects or one
//! object per line (NDJSON), told apart by the first byte that is not white
//! space. Neither form is loaded whole: an array is cut into its elements by a
//! small structural scanner and each element parsed alone; NDJSON is read line
//! by line.
//!
//! Rows are numbered for rejects as follows: in an array, the element's index + 1
//! (the first object is row 1); in NDJSON, the file line (the first line is 1).

use std::borrow::Cow;
use std::io::BufRead;

use rongshu_core::catalog::ResourceSpec;
use serde_json::{Map, Value};

use crate::row_check::{RawCell, RowChecker, RowOutcome, byte_size, item_for_label};
use crate::{IngestError, ReadOptions, RowSource};

/// Unknown keys listed in the report at most; a file with a new key in every
/// object must not grow the list without bound.
const MAX_IGNORED_KEYS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Array,
    Lines,
}

pub struct JsonBatch<R: BufRead> {
    reader: R,
    form: Form,
    checker: RowChecker,
    ignored: Vec<String>,
    rows_read: u64,
    /// The file line the reader is on (1-based).
    line: u64,
    /// Array elements read so far.
    elements: u64,
    limit: u64,
    /// The array's closing `]` has been read.
    closed: bool,
    finished: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonBatch<R> {
    /// Decide the form from the first byte that is not white space. An empty
    /// file (or one of only white space) is [`IngestError::Empty`].
    pub fn open(
        mut reader: R,
        spec: &ResourceSpec,
        options: &ReadOptions,
    ) -> Result<Self, IngestError> {
        if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
        }
        let mut batch = Self {
            reader,
            form: Form::Lines,
            checker: RowChecker::new(spec, options.repeated_keys),
            ignored: Vec::new(),
            rows_read: 0,
            line: 1,
            elements: 0,
            limit: options.max_row_bytes,
            closed: false,
            finished: false,
            buf: Vec::new(),
        };
        match batch.peek_past_space()? {
            None => return Err(IngestError::Empty),
            Some(b'[') => {
                batch.reader.consume(1);
                batch.form = Form::Array;
            }
            Some(b'{') => batch.form = Form::Lines,
            Some(_) => {
                return Err(IngestError::MalformedJson {
                    line: batch.line,
                    message:
                        "a JSON batch is an array of objects ([{…}, {…}]) or one object per line"
                            .into(),
                });
            }
        }
        Ok(batch)
    }

    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }

    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next row's outcome, `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        if self.finished {
            return None;
        }
        let next = match self.form {
            Form::Array => self.next_element(),
            Form::Lines => self.next_line(),
        };
        match next {
            Ok(Some(outcome)) => Some(Ok(outcome)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                // After a file-level error the position in the file is unknown.
                self.finished = true;
                Some(Err(e))
            }
        }
    }

    /// Skip white space (counting lines) and show the next byte without taking it.
    fn peek_past_space(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(None);
            }
            let mut skipped = 0;
            for &b in available {
                if !b.is_ascii_whitespace() {
                    break;
                }
                if b == b'\n' {
                    self.line += 1;
                }
                skipped += 1;
            }
            let next = available.get(skipped).copied();
            self.reader.consume(skipped);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    fn malformed(&self, line: u64, message: impl Into<String>) -> IngestError {
        IngestError::MalformedJson {
            line,
            message: message.into(),
        }
    }

    fn next_element(&mut self) -> Result<Option<RowOutcome>, IngestError> {
        if self.closed {
            return match self.peek_past_space()? {
                None => Ok(None),
                Some(_) => Err(self.malformed(self.line, "there is more after the closing ]")),
            };
        }
        let start_line = match self.peek_past_space()? {
            None => return Err(self.malformed(self.line, "the file ends before the closing ]")),
            Some(b']') if self.elements == 0 => {
                self.reader.consume(1);
                self.closed = true;
                return self.next_element();
            }
            Some(_) => self.line,
        };
        let terminator = self.scan_element()?;
        self.closed = terminator == b']';
        self.elements += 1;
        self.rows_read += 1;
        let row = self.elements;
        let value: Value = serde_json::from_slice(&self.buf).map_err(|e| {
            let line = start_line + (e.line() as u64).saturating_sub(1);
            self.malformed(line, format!("element {row}: {e}"))
        })?;
        Ok(Some(match value {
            Value::Object(map) => self.check_object(row, map),
            _ => self
                .checker
                .reject(row, &[], None, "the element is not an object".into()),
        }))
    }

    /// Copy one array element into `buf`, up to the `,` or `]` that ends it at the
    /// top level; return that byte.
    fn scan_element(&mut self) -> Result<u8, IngestError> {
        self.buf.clear();
        let start_line = self.line;
        let (mut depth, mut in_string, mut escaped) = (0u64, false, false);
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                let element = self.elements + 1;
                return Err(self.malformed(
                    self.line,
                    format!("the file ends inside element {element}: it may be cut short"),
                ));
            }
            let mut end = None;
            for (i, &b) in available.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b']' | b',' if depth == 0 => {
                        end = Some((i, b));
                        break;
                    }
                    _ => {}
                }
            }
            let taken = end.map_or(available.len(), |(i, _)| i);
            self.buf.extend_from_slice(&available[..taken]);
            self.reader.consume(end.map_or(taken, |(i, _)| i + 1));
            if self.buf.len() as u64 > self.limit {
                return Err(IngestError::RowTooLong {
                    line: start_line,
                    limit: byte_size(self.limit),
                });
            }
            if let Some((_, b)) = end {
                return Ok(b);
            }
        }
    }

    fn next_line(&mut self) -> Result<Option<RowOutcome>, IngestError> {
        loop {
            let line = self.line;
            let (saw_any, too_long) = self.read_line()?;
            if !saw_any {
                return Ok(None);
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) && !too_long {
                continue;
            }
            self.rows_read += 1;
            if too_long {
                let reason = format!("the row is longer than the {} limit", byte_size(self.limit));
                return Ok(Some(self.checker.reject(line, &[], None, reason)));
            }
            return Ok(Some(match serde_json::from_slice::<Value>(&self.buf) {
                Ok(Value::Object(map)) => self.check_object(line, map),
                Ok(_) => {
                    self.checker
                        .reject(line, &[], None, "the line is not a JSON object".into())
                }
                Err(e) => {
                    self.checker
                        .reject(line, &[], None, format!("the line is not valid JSON: {e}"))
                }
            }));
        }
    }

    /// Read one line into `buf` without its newline. A line past the limit is
    /// skipped to its end rather than kept. Returns whether any byte was read and
    /// whether the line was too long.
    fn read_line(&mut self) -> std::io::Result<(bool, bool)> {
        self.buf.clear();
        let (mut saw_any, mut too_long) = (false, false);
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok((saw_any, too_long));
            }
            saw_any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let taken = newline.unwrap_or(available.len());
            if !too_long {
                self.buf.extend_from_slice(&available[..taken]);
                if self.buf.len() as u64 > self.limit {
                    too_long = true;
                    self.buf = Vec::new();
                }
            }
            self.reader.consume(newline.map_or(taken, |i| i + 1));
            if newline.is_some() {
                self.line += 1;
                return Ok((true, too_long));
            }
        }
    }

    /// Map an object's keys to items and type the row.
    fn check_object(&mut self, row: u64, map: Map<String, Value>) -> RowOutcome {
        let spec = self.checker.spec();
        let mut cells: Vec<RawCell<'static>> = vec![RawCell::Absent; spec.items.len()];
        let mut given = vec![false; spec.items.len()];
        let mut twice = None;
        for (key, value) in map {
            let Some(i) = item_for_label(spec, key.trim()) else {
                if self.ignored.len() < MAX_IGNORED_KEYS && !self.ignored.contains(&key) {
                    self.ignored.push(key);
                }
                continue;
            };
            let item = &spec.items[i];
            if given[i] {
                twice = Some(i);
            }
            given[i] = true;
            cells[i] = match value {
                Value::Null => RawCell::Absent,
                Value::String(s) => RawCell::Text(Cow::Owned(s)),
                Value::Number(n) => RawCell::Text(Cow::Owned(n.to_string())),
                Value::Bool(b) => RawCell::Text(Cow::Owned(b.to_string())),
                Value::Array(_) | Value::Object(_) => RawCell::Invalid(format!(
                    "{} ({}): a nested object or list is not accepted; give a single value",
                    item.name, item.key
                )),
            };
        }
        if let Some(i) = twice {
            let item = &spec.items[i];
            let reason = format!(
                "{} ({}) is given twice in this object (by key and by name)",
                item.name, item.key
            );
            let key = item.key.to_string();
            return self.checker.reject(row, &cells, Some(&key), reason);
        }
        self.checker.check(row, &cells)
    }
}

impl<R: BufRead> RowSource for JsonBatch<R> {
    fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        JsonBatch::next_row(self)
    }
    fn last_row(&self) -> u64 {
        self.checker.last_row()
    }
    fn last_key(&self) -> Option<&str> {
        self.checker.last_key()
    }
    fn rows_read(&self) -> u64 {
        self.rows_read
    }
    fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }
    fn encoding(&self) -> &'static str {
        // JSON is UTF-8 by definition (RFC 8259); other bytes fail to parse.
        "UTF-8"
    }
}
