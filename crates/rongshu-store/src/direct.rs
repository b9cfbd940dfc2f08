//! Direct connections to a SQLite database file, used on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands
//! every statement over to it and the answer back: for a keyed lookup of one
//! row those two hand-offs cost far more than SQLite's work. The few hot
//! paths that are short and bounded (a lookup by key, the audit's group
//! commit on its own thread) use these connections instead; everything else
//! keeps the pool. With the file in WAL mode readers never block the writer
//! nor each other, and each statement sees what was committed before it
//! began, through whichever connection.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Idle read connections kept at most; more may be open at a moment of
/// contention, and are closed again when they come back to a full shelf.
const MAX_IDLE_READERS: usize = 8;

/// Prepared statements kept per connection: a lookup's text depends on the
/// fields and filters asked, so a handful of shapes per resource.
const STATEMENT_CACHE: usize = 64;

/// How long a statement waits for a lock before failing, as the pool's
/// connections do.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The database file a sqlx SQLite URL names, when it names a plain file:
/// `sqlite://PATH?options` or `sqlite:PATH`. An in-memory database, or a
/// path written with escapes, is left to the pool alone.
pub(crate) fn file_of_url(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory =
        path.is_empty() || path == ":memory:" || options.split('&').any(|o| o == "mode=memory");
    if in_memory || path.contains('%') {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Read-only connections to one database file, lent out one at a time.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Run `read` on an idle connection (or a new one), on this thread.
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lent = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match lent {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let answer = read(&conn);
        // A connection whose statement failed is still sound: SQLite resets
        // a statement when it is dropped, and a reader holds no transaction.
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        answer
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A read-write connection set up as the pool's are (foreign keys checked,
/// WAL with normal syncing, no checkpoint in its own commits), for a writer
/// that runs on a thread of its own.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_handler(Some(try_every_millisecond))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = 0;",
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A writer's wait for the lock: another try every millisecond, for as long
/// as [`BUSY_TIMEOUT`]. SQLite's own handler backs off to a try every 100 ms;
/// against a writer that holds the lock in short turns with short pauses (a
/// large batch, see `beside`), such a waiter gets in only by luck, and the
/// audit writer, whose commits every audited read waits for, must not.
fn try_every_millisecond(tries_so_far: i32) -> bool {
    let waited = Duration::from_millis(u64::try_from(tries_so_far).unwrap_or(0));
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_files_are_opened_directly() {
        assert_eq!(
            file_of_url("sqlite:///data/rongshu.db?mode=rwc"),
            Some(PathBuf::from("/data/rongshu.db"))
        );
        assert_eq!(
            file_of_url("sqlite:local.db"),
            Some(PathBuf::from("local.db"))
        );
        assert_eq!(file_of_url("sqlite::memory:"), None);
        assert_eq!(file_of_url("sqlite://shared.db?mode=memory"), None);
        assert_eq!(file_of_url("sqlite:///a%20b.db"), None);
        assert_eq!(file_of_url("postgres://db/rongshu"), None);
    }
}
