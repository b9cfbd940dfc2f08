//! Resumable batch uploads on disk: a file that arrives in chunks over several
//! requests is kept under the data directory's `uploads/` as `{id}.part`, with a
//! JSON sidecar `{id}.json` saying whose it is and how much has arrived, until it
//! is committed as a batch, abandoned, or left untouched long enough to be stale.
//! Files only: who may touch an upload and what a commit loads is the routes' job.

use std::collections::HashSet;
use std::fmt;
use std::io::{Read, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use futures_util::{Stream, StreamExt};
use rongshu_ingest::BatchFormat;
use rongshu_store::BatchMode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// An upload nobody has written to for this many hours is removed: at server
/// start, or when it is next asked for.
pub const STALE_AFTER_HOURS: i64 = 24;

fn stale_after() -> Duration {
    Duration::hours(STALE_AFTER_HOURS)
}

/// An upload's id: `u` and 32 lowercase hex digits. Only a parsed id becomes a
/// file name, so a path segment cannot name any other file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UploadId(String);

impl UploadId {
    fn random() -> Self {
        Self(format!("u{}", hex::encode(rand::random::<[u8; 16]>())))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let digits = raw.strip_prefix('u')?;
        let ok = digits.len() == 32
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UploadId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("\"{raw}\" is not an upload id"))
    }
}

impl From<UploadId> for String {
    fn from(id: UploadId) -> String {
        id.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 digest as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_ascii_lowercase();
        let ok = s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then_some(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("\"{raw}\" is not a SHA-256 digest"))
    }
}

impl From<Sha256Hex> for String {
    fn from(d: Sha256Hex) -> String {
        d.0
    }
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Taking chunks.
    Open,
    /// Being loaded as a batch.
    Committing,
    /// Loaded; the part file is gone, the sidecar remembers the batch.
    Committed,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Open => "open",
            UploadState::Committing => "committing",
            UploadState::Committed => "committed",
        }
    }
}

/// The short name of a batch format, as the sidecar and the API write it.
pub fn format_name(format: BatchFormat) -> &'static str {
    match format {
        BatchFormat::Csv => "csv",
        BatchFormat::Json => "json",
        BatchFormat::Xlsx => "xlsx",
    }
}

/// A format by its short name (`csv`, `json`, `xlsx`) or its media type.
pub fn parse_format(raw: &str) -> Option<BatchFormat> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "csv" => Some(BatchFormat::Csv),
        "json" => Some(BatchFormat::Json),
        "xlsx" => Some(BatchFormat::Xlsx),
        other => BatchFormat::from_content_type(other),
    }
}

mod serde_format {
    use super::*;

    pub fn serialize<S: Serializer>(f: &Option<BatchFormat>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_some(format_name(*f)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BatchFormat>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        raw.map(|r| {
            parse_format(&r)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown batch format {r}")))
        })
        .transpose()
    }
}

fn deserialize_mode<'de, D: Deserializer<'de>>(d: D) -> Result<BatchMode, D::Error> {
    let raw = String::deserialize(d)?;
    BatchMode::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("unknown mode {raw}")))
}

/// An upload as its sidecar records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: UploadId,
    /// The resource the file is a batch of.
    pub resource: String,
    /// Who opened it, as the audit log names them, and their department: no
    /// one else may see or touch it.
    pub owner: String,
    pub department: String,
    #[serde(deserialize_with = "deserialize_mode")]
    pub mode: BatchMode,
    /// Unset until declared or named by the first chunk's Content-Type.
    #[serde(with = "serde_format")]
    pub format: Option<BatchFormat>,
    /// Total bytes, when declared or given as a Content-Range total.
    pub size: Option<u64>,
    pub sha256: Option<Sha256Hex>,
    /// Bytes safely on disk, in order from the start.
    pub received: u64,
    pub state: UploadState,
    pub batch_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The last chunk or change; staleness counts from here, so a long upload
    /// that keeps sending never expires.
    pub updated_at: DateTime<Utc>,
}

impl Upload {
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.updated_at + stale_after()
    }

    fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.expires_at() <= now
    }
}

/// What opening an upload declares.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub resource: String,
    pub owner: String,
    pub department: String,
    pub mode: BatchMode,
    pub format: Option<BatchFormat>,
    pub size: Option<u64>,
    pub sha256: Option<Sha256Hex>,
}

/// A chunk's place in the file, from `Content-Range: bytes START-END/TOTAL`
/// (END inclusive; TOTAL a number, or `*` when not yet known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRange {
    pub start: u64,
    /// One past the chunk's last byte.
    pub end: u64,
    pub total: Option<u64>,
}

impl ChunkRange {
    pub fn parse(header: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "Content-Range must read \"bytes START-END/TOTAL\" (TOTAL may be *), not \"{header}\""
            )
        };
        let rest = header.trim();
        let rest = rest
            .get(..6)
            .filter(|unit| unit.eq_ignore_ascii_case("bytes "))
            .and_then(|_| rest.get(6..))
            .ok_or_else(bad)?;
        let (range, total) = rest.split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').ok_or_else(bad)?;
        let number = |s: &str| -> Result<u64, String> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let start = number(first)?;
        let last = number(last)?;
        if last < start {
            return Err(format!(
                "Content-Range: the last byte {last} comes before the first {start}"
            ));
        }
        let end = last.checked_add(1).ok_or_else(bad)?;
        let total = match total.trim() {
            "*" => None,
            t => Some(number(t)?),
        };
        if let Some(t) = total
            && end > t
        {
            return Err(format!(
                "Content-Range: the chunk ends at byte {last}, past the total of {t} bytes"
            ));
        }
        Ok(Self { start, end, total })
    }

    /// Never zero: a range names at least one byte.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("upload {0} does not exist")]
    NotFound(String),
    #[error("upload {id} is {}", .state.as_str())]
    NotOpen {
        id: UploadId,
        state: UploadState,
        batch_id: Option<String>,
    },
    #[error("another request is writing to or committing upload {0}; try again when it is done")]
    Busy(UploadId),
    #[error(
        "the chunk starts at byte {start}, but the upload has {received} bytes: send from byte {received}"
    )]
    OffsetMismatch { start: u64, received: u64 },
    #[error("an upload may be at most {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload is {declared} bytes, but the Content-Range total says {total}")]
    TotalConflict { declared: u64, total: u64 },
    #[error("the chunk ends at byte {end}, past the upload's {size} bytes")]
    PastTheEnd { end: u64, size: u64 },
    #[error("the body is longer than its Content-Range ({expected} bytes); nothing of it was kept")]
    BodyTooLong { expected: u64 },
    #[error(
        "the body had {got} of the {expected} bytes its Content-Range promised; the upload has {received} bytes"
    )]
    BodyTooShort {
        got: u64,
        expected: u64,
        received: u64,
    },
    #[error("the chunk was cut off ({reason}); the upload has {received} bytes")]
    CutOff { reason: String, received: u64 },
    #[error("{received} bytes were received, but the upload was declared as {declared}")]
    SizeMismatch { declared: u64, received: u64 },
    #[error("the received file's SHA-256 is {actual}, not the declared {declared}")]
    ChecksumMismatch { declared: String, actual: String },
    #[error("upload {id}: the sidecar cannot be read: {reason}")]
    Corrupt { id: String, reason: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The uploads folder, and which uploads a request is working on right now.
pub struct UploadStore {
    dir: PathBuf,
    busy: Mutex<HashSet<UploadId>>,
}

/// A claim on an upload: while one is held, no other request writes to,
/// commits or removes it.
pub struct Claim<'a> {
    store: &'a UploadStore,
    id: UploadId,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.store.busy_set().remove(&self.id);
    }
}

/// What an accepted chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Bytes of the upload now on disk.
    pub received: u64,
    /// False when the chunk lay wholly below `received` (a resend) and was skipped.
    pub written: bool,
}

/// What the start-up sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    /// Commits a stopped server left half done, opened again.
    pub reopened: usize,
}

impl UploadStore {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            busy: Mutex::new(HashSet::new()),
        }
    }

    fn busy_set(&self) -> std::sync::MutexGuard<'_, HashSet<UploadId>> {
        // The set stays consistent whatever panicked while holding it.
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file the upload's bytes are in.
    pub fn part_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn sidecar_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub async fn create(&self, new: NewUpload, now: DateTime<Utc>) -> Result<Upload, UploadError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let upload = Upload {
            id: UploadId::random(),
            resource: new.resource,
            owner: new.owner,
            department: new.department,
            mode: new.mode,
            format: new.format,
            size: new.size,
            sha256: new.sha256,
            received: 0,
            state: UploadState::Open,
            batch_id: None,
            created_at: now,
            updated_at: now,
        };
        // The sidecar first: a part file never exists without one.
        self.write_sidecar(&upload).await?;
        tokio::fs::File::create(self.part_path(&upload.id)).await?;
        Ok(upload)
    }

    async fn read(&self, id: &UploadId) -> Result<Upload, UploadError> {
        let text = match tokio::fs::read(self.sidecar_path(id)).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UploadError::NotFound(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&text).map_err(|e| UploadError::Corrupt {
            id: id.to_string(),
            reason: e.to_string(),
        })
    }

    /// Replace the sidecar in one step, so a crash leaves the old or the new one.
    async fn write_sidecar(&self, upload: &Upload) -> Result<(), UploadError> {
        let json = serde_json::to_vec_pretty(upload).map_err(std::io::Error::other)?;
        let path = self.sidecar_path(&upload.id);
        let tmp = path.with_extension("json.tmp");
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(&json).await?;
        file.sync_all().await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    /// The upload, unless it does not exist or went stale (it is removed then).
    pub async fn get(&self, id: &UploadId, now: DateTime<Utc>) -> Result<Upload, UploadError> {
        let upload = self.read(id).await?;
        if upload.is_stale(now) && !self.busy_set().contains(id) {
            self.remove_files(id).await?;
            return Err(UploadError::NotFound(id.to_string()));
        }
        Ok(upload)
    }

    /// Claim an upload for one request, or say that another request has it.
    pub fn claim(&self, id: &UploadId) -> Result<Claim<'_>, UploadError> {
        if !self.busy_set().insert(id.clone()) {
            return Err(UploadError::Busy(id.clone()));
        }
        Ok(Claim {
            store: self,
            id: id.clone(),
        })
    }

    /// Write one chunk at the end of the upload. A chunk wholly below what has
    /// arrived is a resend and is acknowledged without writing; one that leaves
    /// a gap or overlaps the end is refused with the current offset. The body
    /// streams to disk; if it is cut off, what arrived is kept, so the client
    /// resumes from there. `format` is the chunk's Content-Type's format, kept
    /// when the upload has none yet.
    pub async fn append<S, B, E>(
        &self,
        claim: &Claim<'_>,
        range: ChunkRange,
        format: Option<BatchFormat>,
        body: &mut S,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Appended, UploadError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: fmt::Display,
    {
        let mut upload = self.read(&claim.id).await?;
        ensure_open(&upload)?;
        if range.end > limit || range.total.is_some_and(|t| t > limit) {
            return Err(UploadError::TooLarge { limit });
        }
        match (upload.size, range.total) {
            (Some(declared), Some(total)) if declared != total => {
                return Err(UploadError::TotalConflict { declared, total });
            }
            (None, Some(total)) => upload.size = Some(total),
            _ => {}
        }
        if let Some(size) = upload.size
            && range.end > size
        {
            return Err(UploadError::PastTheEnd {
                end: range.end,
                size,
            });
        }
        if range.end <= upload.received {
            return Ok(Appended {
                received: upload.received,
                written: false,
            });
        }
        if range.start != upload.received {
            return Err(UploadError::OffsetMismatch {
                start: range.start,
                received: upload.received,
            });
        }
        if upload.format.is_none() {
            upload.format = format;
        }

        let part = self.part_path(&claim.id);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .await?;
        // Bytes past `received` are from a chunk a crash interrupted before its
        // sidecar was written: not part of the upload.
        file.set_len(upload.received).await?;
        file.seek(SeekFrom::Start(upload.received)).await?;
        let expected = range.len();
        let mut got: u64 = 0;
        let mut cut = None;
        while let Some(piece) = body.next().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    cut = Some(e.to_string());
                    break;
                }
            };
            let bytes = piece.as_ref();
            if got + bytes.len() as u64 > expected {
                file.set_len(upload.received).await?;
                return Err(UploadError::BodyTooLong { expected });
            }
            file.write_all(bytes).await?;
            got += bytes.len() as u64;
        }
        file.flush().await?;
        // The data is durable before the sidecar says it has arrived.
        file.sync_data().await?;
        upload.received += got;
        upload.updated_at = now;
        self.write_sidecar(&upload).await?;
        if let Some(reason) = cut {
            return Err(UploadError::CutOff {
                reason,
                received: upload.received,
            });
        }
        if got < expected {
            return Err(UploadError::BodyTooShort {
                got,
                expected,
                received: upload.received,
            });
        }
        Ok(Appended {
            received: upload.received,
            written: true,
        })
    }

    /// Check that the upload is complete and is the file declared (its size and
    /// SHA-256, when given), and mark it as being committed. A mismatch leaves it
    /// open, so the client can send what is missing.
    pub async fn begin_commit(
        &self,
        claim: &Claim<'_>,
        now: DateTime<Utc>,
    ) -> Result<Upload, UploadError> {
        let mut upload = self.read(&claim.id).await?;
        ensure_open(&upload)?;
        let part = self.part_path(&claim.id);
        // Cut off any bytes of an interrupted chunk, which the hash must not see.
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .await?;
        file.set_len(upload.received).await?;
        drop(file);
        if let Some(declared) = upload.size
            && declared != upload.received
        {
            return Err(UploadError::SizeMismatch {
                declared,
                received: upload.received,
            });
        }
        if let Some(declared) = &upload.sha256 {
            let actual = sha256_of(part).await?;
            if actual != declared.as_str() {
                return Err(UploadError::ChecksumMismatch {
                    declared: declared.as_str().to_owned(),
                    actual,
                });
            }
        }
        upload.state = UploadState::Committing;
        upload.updated_at = now;
        self.write_sidecar(&upload).await?;
        Ok(upload)
    }

    /// The commit loaded the batch: drop the bytes, remember the batch.
    pub async fn finish_commit(
        &self,
        claim: &Claim<'_>,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Upload, UploadError> {
        let mut upload = self.read(&claim.id).await?;
        upload.state = UploadState::Committed;
        upload.batch_id = Some(batch_id.to_owned());
        upload.updated_at = now;
        self.write_sidecar(&upload).await?;
        remove_if_there(&self.part_path(&claim.id)).await?;
        Ok(upload)
    }

    /// The commit failed before anything was loaded: the upload takes chunks
    /// and commits again.
    pub async fn abort_commit(
        &self,
        claim: &Claim<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), UploadError> {
        let mut upload = self.read(&claim.id).await?;
        upload.state = UploadState::Open;
        upload.updated_at = now;
        self.write_sidecar(&upload).await
    }

    /// Abandon an upload: its bytes and its sidecar go.
    pub async fn remove(&self, claim: &Claim<'_>) -> Result<(), UploadError> {
        self.remove_files(&claim.id).await
    }

    async fn remove_files(&self, id: &UploadId) -> Result<(), UploadError> {
        // The part first, so a crash in between leaves a sidecar the sweep finds.
        remove_if_there(&self.part_path(id)).await?;
        remove_if_there(&self.sidecar_path(id)).await?;
        Ok(())
    }

    /// At server start: remove stale uploads, and open again those a stopped
    /// server was committing (a batch loads atomically, so an interrupted commit
    /// loaded nothing unless it had finished loading just before the stop).
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept, UploadError> {
        let mut swept = Swept::default();
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
            Err(e) => return Err(e.into()),
        };
        let mut sidecars = Vec::new();
        let mut parts = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(id) = name.strip_suffix(".json").and_then(UploadId::parse) {
                sidecars.push(id);
            } else if let Some(id) = name.strip_suffix(".part").and_then(UploadId::parse) {
                parts.push(id);
            }
        }
        for id in &sidecars {
            if self.busy_set().contains(id) {
                continue;
            }
            let mut upload = match self.read(id).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(upload = %id, error = %e, "an upload's sidecar cannot be read; left as it is");
                    continue;
                }
            };
            if upload.is_stale(now) {
                self.remove_files(id).await?;
                swept.removed += 1;
            } else if upload.state == UploadState::Committing {
                upload.state = UploadState::Open;
                self.write_sidecar(&upload).await?;
                swept.reopened += 1;
            }
        }
        // A part whose sidecar is gone belongs to no upload.
        for id in parts.iter().filter(|p| !sidecars.contains(p)) {
            remove_if_there(&self.part_path(id)).await?;
            swept.removed += 1;
        }
        Ok(swept)
    }
}

fn ensure_open(upload: &Upload) -> Result<(), UploadError> {
    if upload.state == UploadState::Open {
        Ok(())
    } else {
        Err(UploadError::NotOpen {
            id: upload.id.clone(),
            state: upload.state,
            batch_id: upload.batch_id.clone(),
        })
    }
}

async fn remove_if_there(path: &Path) -> Result<(), UploadError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// The file's SHA-256, read on a blocking thread: files run to tens of GB.
async fn sha256_of(path: PathBuf) -> Result<String, UploadError> {
    let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(buf.get(..n).unwrap_or_default());
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    type Piece = Result<&'static [u8], String>;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
    }

    fn new_upload(size: Option<u64>, sha256: Option<&str>) -> NewUpload {
        NewUpload {
            resource: "101001-000001".into(),
            owner: "user:li".into(),
            department: "gaj".into(),
            mode: BatchMode::Upsert,
            format: None,
            size,
            sha256: sha256.and_then(Sha256Hex::parse),
        }
    }

    fn range(header: &str) -> ChunkRange {
        ChunkRange::parse(header).unwrap()
    }

    async fn send(
        store: &UploadStore,
        id: &UploadId,
        header: &str,
        pieces: Vec<Piece>,
    ) -> Result<Appended, UploadError> {
        let claim = store.claim(id).unwrap();
        let mut body = futures_util::stream::iter(pieces);
        store
            .append(&claim, range(header), None, &mut body, 1 << 20, now())
            .await
    }

    #[test]
    fn content_ranges_parse_and_bad_ones_say_why() {
        assert_eq!(
            range("bytes 0-9/100"),
            ChunkRange {
                start: 0,
                end: 10,
                total: Some(100)
            }
        );
        assert_eq!(range("bytes 10-19/*").total, None);
        assert_eq!(range("Bytes 5-5/6").len(), 1);
        for bad in [
            "0-9/100",
            "bytes 9-0/100",
            "bytes 0-100/100",
            "bytes */100",
            "bytes -1-5/10",
            "bytes 0-9",
            "items 0-9/10",
            "bytes 0-18446744073709551615/*",
        ] {
            assert!(ChunkRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_well_formed_ids_name_files() {
        let id = UploadId::random();
        assert_eq!(UploadId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "u",
            "../etc/passwd",
            "u0123456789abcdef0123456789abcdeF",
            "b0123456789abcdef0123456789abcdef",
            "u0123456789abcdef0123456789abcdef/..",
        ] {
            assert_eq!(UploadId::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn chunks_append_in_order_and_resends_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = UploadStore::new(dir.path().join("uploads"));
        let up = store
            .create(new_upload(Some(9), None), now())
            .await
            .unwrap();
        let a = send(&store, &up.id, "bytes 0-3/9", vec![Ok(b"ab"), Ok(b"cd")]).await;
        assert_eq!(a.unwrap().received, 4);
        // The same chunk again: acknowledged, nothing written twice.
        let again = send(&store, &up.id, "bytes 0-3/9", vec![Ok(b"abcd")]).await;
        assert_eq!(
            again.unwrap(),
            Appended {
                received: 4,
                written: false
            }
        );
        // A gap and an overlap are refused with the offset to send from.
        for header in ["bytes 5-8/9", "bytes 2-6/9"] {
            match send(&store, &up.id, header, vec![Ok(b"xxxxx")]).await {
                Err(UploadError::OffsetMismatch { received: 4, .. }) => {}
                other => panic!("{header}: {other:?}"),
            }
        }
        send(&store, &up.id, "bytes 4-8/9", vec![Ok(b"efghi")])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(store.part_path(&up.id)).unwrap(),
            b"abcdefghi"
        );
        let claim = store.claim(&up.id).unwrap();
        let committing = store.begin_commit(&claim, now()).await.unwrap();
        assert_eq!(committing.state, UploadState::Committing);
    }

    #[tokio::test]
    async fn a_cut_off_chunk_keeps_what_arrived_and_a_long_one_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = UploadStore::new(dir.path().to_path_buf());
        let up = store.create(new_upload(None, None), now()).await.unwrap();
        let cut = send(
            &store,
            &up.id,
            "bytes 0-5/*",
            vec![Ok(b"abc"), Err("connection reset".into())],
        )
        .await;
        assert!(
            matches!(cut, Err(UploadError::CutOff { received: 3, .. })),
            "{cut:?}"
        );
        assert_eq!(store.get(&up.id, now()).await.unwrap().received, 3);
        let long = send(&store, &up.id, "bytes 3-4/*", vec![Ok(b"de"), Ok(b"f")]).await;
        assert!(
            matches!(long, Err(UploadError::BodyTooLong { expected: 2 })),
            "{long:?}"
        );
        assert_eq!(store.get(&up.id, now()).await.unwrap().received, 3);
        assert_eq!(std::fs::read(store.part_path(&up.id)).unwrap(), b"abc");
        // A total learnt from Content-Range holds for later chunks.
        send(&store, &up.id, "bytes 3-4/5", vec![Ok(b"de")])
            .await
            .unwrap();
        let conflict = send(&store, &up.id, "bytes 5-5/6", vec![Ok(b"f")]).await;
        assert!(
            matches!(conflict, Err(UploadError::TotalConflict { .. })),
            "{conflict:?}"
        );
    }

    #[tokio::test]
    async fn a_commit_checks_size_and_digest_and_a_mismatch_stays_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = UploadStore::new(dir.path().to_path_buf());
        let digest = hex::encode(Sha256::digest(b"hello"));
        let wrong = hex::encode(Sha256::digest(b"hellp"));
        let up = store
            .create(new_upload(Some(5), Some(&wrong)), now())
            .await
            .unwrap();
        send(&store, &up.id, "bytes 0-3/5", vec![Ok(b"hell")])
            .await
            .unwrap();
        let claim = store.claim(&up.id).unwrap();
        assert!(matches!(
            store.begin_commit(&claim, now()).await,
            Err(UploadError::SizeMismatch {
                declared: 5,
                received: 4
            })
        ));
        drop(claim);
        send(&store, &up.id, "bytes 4-4/5", vec![Ok(b"o")])
            .await
            .unwrap();
        let claim = store.claim(&up.id).unwrap();
        match store.begin_commit(&claim, now()).await {
            Err(UploadError::ChecksumMismatch { actual, .. }) => assert_eq!(actual, digest),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.get(&up.id, now()).await.unwrap().state,
            UploadState::Open
        );
        // A second claim while one is held is refused.
        assert!(matches!(store.claim(&up.id), Err(UploadError::Busy(_))));
        store.remove(&claim).await.unwrap();
        assert!(matches!(
            store.get(&up.id, now()).await,
            Err(UploadError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn committed_uploads_take_no_more_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = UploadStore::new(dir.path().to_path_buf());
        let up = store.create(new_upload(None, None), now()).await.unwrap();
        send(&store, &up.id, "bytes 0-1/2", vec![Ok(b"ok")])
            .await
            .unwrap();
        {
            let claim = store.claim(&up.id).unwrap();
            store.begin_commit(&claim, now()).await.unwrap();
            store.finish_commit(&claim, "b1", now()).await.unwrap();
        }
        assert!(!store.part_path(&up.id).exists());
        let late = send(&store, &up.id, "bytes 0-1/2", vec![Ok(b"ok")]).await;
        assert!(
            matches!(
                late,
                Err(UploadError::NotOpen {
                    state: UploadState::Committed,
                    ..
                })
            ),
            "{late:?}"
        );
        let claim = store.claim(&up.id).unwrap();
        assert!(matches!(
            store.begin_commit(&claim, now()).await,
            Err(UploadError::NotOpen { .. })
        ));
    }

    #[tokio::test]
    async fn stale_uploads_go_and_interrupted_commits_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = UploadStore::new(dir.path().to_path_buf());
        let old = store.create(new_upload(None, None), now()).await.unwrap();
        let later = now() + Duration::hours(20);
        let fresh = store.create(new_upload(None, None), later).await.unwrap();
        {
            let claim = store.claim(&fresh.id).unwrap();
            store.begin_commit(&claim, later).await.unwrap();
        }
        // A one-shot batch spooled next to them is not the sweep's to remove.
        std::fs::write(dir.path().join("0123abcd.part"), b"x").unwrap();
        let swept = store
            .sweep(now() + Duration::hours(STALE_AFTER_HOURS))
            .await
            .unwrap();
        assert_eq!(
            swept,
            Swept {
                removed: 1,
                reopened: 1
            }
        );
        assert!(!store.part_path(&old.id).exists());
        assert!(dir.path().join("0123abcd.part").exists());
        let fresh = store.get(&fresh.id, later).await.unwrap();
        assert_eq!(fresh.state, UploadState::Open);
        // Asked for after it went stale, an upload is gone.
        let much_later = later + Duration::hours(STALE_AFTER_HOURS + 1);
        assert!(matches!(
            store.get(&fresh.id, much_later).await,
            Err(UploadError::NotFound(_))
        ));
        assert!(!store.part_path(&fresh.id).exists());
    }
}
