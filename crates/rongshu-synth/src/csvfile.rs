//! A CSV file being written: buffered, with its path for error messages and a count of
//! its data rows.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::SynthError;

pub(crate) struct CsvFile {
    /// Path relative to the output directory, as the manifest names it.
    pub name: String,
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    pub columns: Vec<String>,
    pub rows: u64,
}

impl CsvFile {
    pub(crate) fn create(out_dir: &Path, name: &str, columns: &[&str]) -> Result<Self, SynthError> {
        let path = out_dir.join(name);
        let file = File::create(&path).map_err(|source| SynthError::Io {
            path: path.clone(),
            source,
        })?;
        let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
        writer
            .write_record(columns)
            .map_err(|source| SynthError::Csv {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            name: name.to_string(),
            path,
            writer,
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
            rows: 0,
        })
    }

    /// Writes one data row and returns its line number (the header is line 1).
    pub(crate) fn write<I, T>(&mut self, values: I) -> Result<u64, SynthError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(values)
            .map_err(|source| SynthError::Csv {
                path: self.path.clone(),
                source,
            })?;
        self.rows += 1;
        Ok(self.rows + 1)
    }

    /// The line number the next row will get.
    pub(crate) fn next_line(&self) -> u64 {
        self.rows + 2
    }

    /// Flushes the file (the CSV writer flushes its buffered writer too).
    pub(crate) fn finish(mut self) -> Result<crate::FileInfo, SynthError> {
        self.writer.flush().map_err(|source| SynthError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(crate::FileInfo {
            file: self.name,
            rows: self.rows,
            columns: self.columns,
        })
    }
}
