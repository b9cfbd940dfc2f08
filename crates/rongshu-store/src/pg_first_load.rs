//! PostgreSQL: a large first load written straight into the table beside
//! the resource's as the file is read.
//!
//! Staged the general way, every row of a first load went through
//! PostgreSQL twice: `COPY` into the unlogged staging table as the file was
//! read, then `INSERT ... SELECT` into the batch's table in the final step
//! (15 s of a ten-million-row load). Here the rows the checks let through go
//! by a second `COPY`, on a connection of its own, into the batch's table,
//! while the next run is read and checked. The staging table still gets
//! every row, but a row written straight in is staged without its cells,
//! only to claim its key (an empty `_record` marks it; a first load's rows
//! keep no record otherwise). The final step adds the few rows held back,
//! builds the table's indexes, and swaps it in, as `pg_beside` does.
//!
//! The indexes are built once the rows are in, whatever their order: kept
//! up to date row by row, even in key order, they made a three-million-row
//! load take 16.5 s instead of 13.5 s.
//!
//! A row whose key the batch's filter of seen keys has never seen (see
//! `seen_keys`) cannot repeat an earlier one, and goes straight in. A
//! suspect might, and is held back in the staging table with its cells: the
//! repeats step (see `repeats`) rejects the true repeats, and the final step
//! writes the rest into the table, numbered after the rows written straight
//! in. So the row ids, which are the rows' sequence numbers in the change
//! log (see `table_log`), follow the file's lines except for those few.
//!
//! The rows written straight in are committed before the final step, under
//! a name no reader knows. A reader that must see one snapshot of both the
//! rows and the resource's count locks the resource's table before its
//! snapshot is taken (see `query_records_counted`), so it reads either the
//! empty table before the swap or the full one after it, never these rows
//! beside a count without them.
//!
//! Used for a first load with no uniqueness rule besides the key, once it
//! has more rows than a first turn, into a resource table with exactly the
//! indexes the catalog gives it. Any other first load is staged the general
//! way.

use sqlx::{Connection, PgConnection};

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use rongshu_core::quality::RowDigests;

use crate::StoreError;
use crate::batches::BatchWriter;
use crate::first_load::{QueuedRow, Stage};
use crate::pg_beside::PgShadow;
use crate::repeats::{StagedRow, StreamStatus};
use crate::stage_copy::{CopyStream, encode_claim, encode_resource_row};

/// A held claim: the line, the key digest and whether the row was warned,
/// in that many bytes.
const CLAIM_BYTES: usize = 8 + 16 + 1;

/// Held claims staged at a time.
const CLAIMS_RUN: usize = 20_000;

/// A first load being written straight into its table.
pub(crate) struct PgFirstLoad {
    stream: CopyStream,
    pub(crate) written: PgWritten,
}

/// What a first load wrote straight into its table.
#[derive(Debug)]
pub(crate) struct PgWritten {
    pub(crate) shadow: PgShadow,
    /// The sequence number (and row id) of its first row.
    pub(crate) first_seq: i64,
    /// Rows written straight in, numbered from `first_seq` on.
    pub(crate) rows: i64,
    /// Their claims, while they wait in a file rather than in the staging
    /// table; `None` once staged, or when they went there as they came.
    claims: Option<HeldClaims>,
}

/// The claims of the rows written straight in, [`CLAIM_BYTES`] each, in an
/// unnamed temporary file (250 MB for ten million rows). They are needed
/// only if a key may really repeat (see `seen_keys`), which in most files
/// none does: staged as they came, they cost PostgreSQL a row each (a fifth
/// of a load's time on the staging connection) for nothing.
#[derive(Debug)]
struct HeldClaims {
    file: BufWriter<File>,
    rows: i64,
}

impl BatchWriter {
    /// Make the batch's table and start writing into it; `Ok(false)`, with
    /// nothing done, when the batch must be staged the general way instead.
    pub(crate) async fn start_pg_first_load(&mut self) -> Result<bool, StoreError> {
        let Some(options) = self.store.pg_copy.clone() else {
            return Ok(false);
        };
        let Some((shadow, first_seq)) = self.make_pg_shadow().await? else {
            return Ok(false);
        };
        let conn = PgConnection::connect_with(&options).await?;
        let stream = CopyStream::start(conn, shadow.copy_in(&self.sql.items));
        self.first_load = Stage::Direct(PgFirstLoad {
            stream,
            written: PgWritten {
                shadow,
                first_seq,
                rows: 0,
                claims: tempfile::tempfile().ok().map(|file| HeldClaims {
                    file: BufWriter::with_capacity(1 << 16, file),
                    rows: 0,
                }),
            },
        });
        Ok(true)
    }

    /// A run of rows: those that cannot repeat a key go into the batch's
    /// table, and are staged only to claim their keys; the others are
    /// staged whole.
    pub(crate) async fn send_pg_first_load(
        &mut self,
        rows: Vec<QueuedRow>,
    ) -> Result<(), StoreError> {
        let Stage::Direct(load) = &mut self.first_load else {
            return Err(StoreError::Invalid(
                "rows were sent after the batch's load had ended".into(),
            ));
        };
        let items = self.sql.item_types();
        let mut straight = Vec::with_capacity(rows.len() * 160);
        let mut staged = Vec::with_capacity(rows.len() * 64);
        let mut claims = Vec::new();
        for QueuedRow { row, suspect } in &rows {
            if *suspect || row.status == StreamStatus::Rejected {
                crate::stage_copy::encode_row(&mut staged, row, None, self.sql.unique_rules, items);
                continue;
            }
            let row_id = load.written.first_seq + load.written.rows;
            encode_resource_row(&mut straight, row_id, self.batch_row_id, row, items);
            match load.written.claims.as_mut() {
                Some(held) => {
                    held.rows += 1;
                    claims.extend_from_slice(&row.line.to_le_bytes());
                    claims.extend_from_slice(&row.digests.key.to_le_bytes());
                    claims.push(u8::from(row.status == StreamStatus::Warned));
                }
                None => encode_claim(&mut staged, row, self.sql.unique_rules, items.len()),
            }
            load.written.rows += 1;
        }
        if !straight.is_empty() {
            load.stream.send(straight).await?;
        }
        if let Some(held) = load.written.claims.as_mut() {
            held.file.write_all(&claims).map_err(|e| {
                StoreError::Invalid(format!("could not keep the rows' claims aside: {e}"))
            })?;
        }
        for QueuedRow { row, .. } in &rows {
            self.count_staged(row);
        }
        match self.copy.as_mut() {
            Some(copy) => copy.send(staged).await,
            None => Err(StoreError::Invalid(
                "a first load on PostgreSQL needs its staging copy".into(),
            )),
        }
    }

    /// Every row sent: the batch's table is committed, for the final step
    /// to complete and swap in.
    pub(crate) async fn finish_pg_first_load(
        &mut self,
        mut load: PgFirstLoad,
    ) -> Result<(), StoreError> {
        load.stream.finish().await?;
        self.first_load = Stage::DirectWritten(load.written);
        Ok(())
    }

    /// Claims of rows written straight in that wait in their file, not in
    /// the staging table.
    pub(crate) fn claims_held_aside(&self) -> i64 {
        match &self.first_load {
            Stage::DirectWritten(PgWritten {
                claims: Some(held), ..
            }) => held.rows,
            _ => 0,
        }
    }

    /// Stage the claims waiting in their file, before the staged rows are
    /// compared for repeated keys: every row must claim its key there.
    pub(crate) async fn stage_claims_held_aside(&mut self) -> Result<(), StoreError> {
        let Stage::DirectWritten(written) = &mut self.first_load else {
            return Ok(());
        };
        let Some(held) = written.claims.take() else {
            return Ok(());
        };
        let Some(options) = self.store.pg_copy.clone() else {
            return Err(StoreError::Invalid(
                "a first load on PostgreSQL needs its staging copy".into(),
            ));
        };
        let kept_aside = |e: std::io::Error| {
            StoreError::Invalid(format!("could not read the rows' claims back: {e}"))
        };
        let mut file = held
            .file
            .into_inner()
            .map_err(|e| kept_aside(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(kept_aside)?;
        let conn = PgConnection::connect_with(&options).await?;
        let mut copy = CopyStream::start(conn, self.sql.copy_rows());
        let mut claims = std::io::BufReader::with_capacity(1 << 16, file);
        let mut record = [0u8; CLAIM_BYTES];
        let mut left = held.rows;
        while left > 0 {
            let mut run = Vec::with_capacity(CLAIMS_RUN * 64);
            for _ in 0..CLAIMS_RUN.min(left as usize) {
                claims.read_exact(&mut record).map_err(kept_aside)?;
                encode_claim(
                    &mut run,
                    &held_claim(&record),
                    self.sql.unique_rules,
                    self.sql.items.len(),
                );
                left -= 1;
            }
            copy.send(run).await?;
        }
        copy.finish().await
    }

    /// A batch given up: the `COPY` into its table is rolled back, so the
    /// table can be dropped with the batch.
    pub(crate) async fn abandon_pg_first_load(load: PgFirstLoad) {
        load.stream.abandon().await;
    }
}

/// A claim read back from its file, as the row it stands for is staged:
/// without its key as written or its cells.
fn held_claim(record: &[u8; CLAIM_BYTES]) -> StagedRow {
    let mut line = [0u8; 8];
    line.copy_from_slice(&record[..8]);
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&record[8..24]);
    StagedRow {
        line: u64::from_le_bytes(line),
        status: if record[24] == 1 {
            StreamStatus::Warned
        } else {
            StreamStatus::Clean
        },
        key: None,
        digests: RowDigests {
            key: u128::from_le_bytes(digest),
            unique: Vec::new(),
        },
        cells: Vec::new(),
    }
}
