//! A thread per SQLite database file that moves the write-ahead log into the
//! file, so that no connection of the store checkpoints in its own commit,
//! and keeps the log from growing without end.
//!
//! SQLite otherwise checkpoints inside the commit that crosses its threshold,
//! and that commit waits for the copy and its sync: every read waiting on an
//! audit group would be late by it, and a batch that wrote a million rows
//! would answer 1.5 s later for copying them. So the store's connections are
//! opened with automatic checkpoints off, and this thread checkpoints
//! passively, which blocks neither readers nor writers.
//!
//! A passive checkpoint alone does not bound the log. SQLite starts writing
//! the log from its beginning again only when a write transaction begins
//! with every frame already copied and no reader still using the log; with
//! groups committed back to back and lookups reading all the while, that
//! moment never comes, and the log grew by 1.5 GB in eight seconds of the
//! lookup benchmark. Once the log is long, a restarting checkpoint makes that
//! moment: it holds off writers for the few frames left since the passive
//! copy and waits for readers of the log to finish, which lookups do within
//! microseconds. Its wait is short, so that a long reader (an export) never
//! holds the writer back: the checkpoint then stays passive and is tried
//! again on the next round.
//!
//! A restart is put off while a large batch writes its turns (see
//! `beside`). The restart waits for the write lock, and once it has it, it
//! copies and syncs whatever was committed since the passive copy. Taken
//! just as a turn ended, that was the turn's whole write: the restart held
//! the lock for up to half a second, audited reads waited as long behind
//! it, and over a ten-million-row load the batch's turns waited 10 s in all.
//! So a restart is made only in a round during whose passive copy no turn
//! was written and none is under way: then only the audit's small groups
//! can have come in between. Once the log has grown past
//! [`HOLD_TURNS_AFTER_FRAMES`] without such a round, the batches are asked
//! to hold their next turn until the log has been restarted (for a passive
//! copy of the last turn and the restart, a second at most), and the rounds
//! come quickly until then.
//!
//! Before a restart, the database file is synced by this thread, outside any
//! lock. The restart ends with a sync of the file, under the lock; passive
//! copies that never catch up with the log's end (audit groups keep coming)
//! never sync, so that sync wrote out everything copied since the last
//! restart, 256 MiB during a large load: 190-210 ms in which every audited
//! read waited. Synced first, the restart's own sync has only its last few
//! frames to write.

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::{StoreError, direct};

/// How often the log is moved into the database file, at the least.
const EVERY: Duration = Duration::from_millis(250);

/// Frames in the log beyond which it is restarted: 16 MiB of 4 KiB pages,
/// four times SQLite's own automatic threshold, so that a restart (and the
/// pause it makes writers take) comes at most every few rounds under load.
const RESTART_AFTER_FRAMES: i64 = 4_096;

/// How long a restart waits for the write lock and for readers of the log.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// Frames (256 MiB of 4 KiB pages) past which large batches hold their turns
/// for the log to be restarted: the log's file stays about this size during
/// the longest load.
const HOLD_TURNS_AFTER_FRAMES: i64 = 65_536;

/// How soon the next round comes while the batches hold their turns.
const SOON: Duration = Duration::from_millis(5);

/// How long a batch holds its next turn for a restart at most: a reader that
/// keeps the log (an export) makes the restart give up, and the batch must
/// not wait for it.
pub(crate) const MOST_HOLD: Duration = Duration::from_secs(1);

/// The checkpointing thread; it stops when [`Checkpointer::stop`] is called
/// or the checkpointer is dropped.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    turns: Arc<Turns>,
}

/// Large batches' turns: how many are under way, how many have ended, and
/// whether the next should wait for the log's restart.
#[derive(Default)]
pub(crate) struct Turns {
    under_way: AtomicUsize,
    ended: AtomicUsize,
    hold: AtomicBool,
}

impl Turns {
    fn start(turns: &Arc<Turns>) -> TurnUnderWay {
        turns.under_way.fetch_add(1, Ordering::SeqCst);
        TurnUnderWay(turns.clone())
    }

    fn holding(&self) -> bool {
        self.hold.load(Ordering::SeqCst)
    }

    fn ended(&self) -> usize {
        self.ended.load(Ordering::SeqCst)
    }

    /// No turn is under way, and none ended since `ended` was read.
    fn quiet_since(&self, ended: usize) -> bool {
        self.under_way.load(Ordering::SeqCst) == 0 && self.ended() == ended
    }
}

/// A large batch's turn under way, while it is held (see
/// [`Checkpointer::turn_under_way`]).
pub(crate) struct TurnUnderWay(Arc<Turns>);

impl Drop for TurnUnderWay {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
        self.0.under_way.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `PRAGMA wal_checkpoint` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// The checkpoint could not finish (a lock or a reader was in the way).
    pub busy: bool,
    /// Frames in the log.
    pub log_frames: i64,
    /// Frames of the log now in the database file.
    pub copied_frames: i64,
}

/// One checkpoint in `mode` (`PASSIVE`, `RESTART`, …).
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> Result<Checkpointed, StoreError> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    Ok(conn.query_row(&sql, [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            log_frames: r.get(1)?,
            copied_frames: r.get(2)?,
        })
    })?)
}

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// A passive copy; the log is short.
    Copied,
    /// A passive copy; the restart is put off, a large batch's turn being
    /// under way or written during the copy.
    PutOff,
    /// As `PutOff`, and the batches are asked to hold their next turn.
    Holding,
    /// The log was restarted.
    Restarted,
    /// A reader kept the log: the restart gave up.
    GaveUp,
}

impl Round {
    /// How soon the next round is due.
    fn next(self) -> Duration {
        match self {
            Round::Holding => SOON,
            _ => EVERY,
        }
    }
}

/// The checkpoint thread's rounds and what they remember.
struct Rounds {
    /// Log frames past which the batches are asked to hold their turns.
    hold_after: i64,
}

impl Rounds {
    fn new() -> Self {
        Self {
            hold_after: HOLD_TURNS_AFTER_FRAMES,
        }
    }

    /// A passive checkpoint, and a restarting one when the log has grown
    /// long and no large batch's turn was written during the passive copy
    /// nor is under way (`turns`).
    fn round(&mut self, conn: &Connection, turns: &Turns) -> Result<Round, StoreError> {
        let ended = turns.ended();
        let passive = checkpoint(conn, "PASSIVE")?;
        if passive.log_frames < RESTART_AFTER_FRAMES {
            turns.hold.store(false, Ordering::SeqCst);
            return Ok(Round::Copied);
        }
        if !turns.quiet_since(ended) {
            if passive.log_frames < self.hold_after {
                return Ok(Round::PutOff);
            }
            turns.hold.store(true, Ordering::SeqCst);
            return Ok(Round::Holding);
        }
        sync_database_file(conn);
        let restart = checkpoint(conn, "RESTART")?;
        turns.hold.store(false, Ordering::SeqCst);
        if restart.busy {
            // The batches are not held again until the log has grown as
            // much once more.
            tracing::debug!(frames = restart.log_frames, "log not restarted this round");
            self.hold_after = restart.log_frames.saturating_add(HOLD_TURNS_AFTER_FRAMES);
            Ok(Round::GaveUp)
        } else {
            self.hold_after = HOLD_TURNS_AFTER_FRAMES;
            Ok(Round::Restarted)
        }
    }
}

/// Write the database file's copied pages to disk, taking no lock of
/// SQLite's. A failure is left to the restart's own sync to meet.
fn sync_database_file(conn: &Connection) {
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else {
        return;
    };
    if let Err(e) = std::fs::File::open(path).and_then(|file| file.sync_data()) {
        tracing::debug!(error = %e, "could not sync the database file before a restart");
    }
}

/// The thread's loop: a round, then a wait as long as the round says, until
/// `stopped`.
fn run_rounds(conn: &Connection, stopped: &AtomicBool, turns: &Turns) {
    let mut rounds = Rounds::new();
    let mut next = EVERY;
    loop {
        std::thread::park_timeout(next);
        if stopped.load(Ordering::Relaxed) {
            break;
        }
        next = match rounds.round(conn, turns) {
            Ok(done) => done.next(),
            Err(e) => {
                tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                // A round that failed holds no batch back.
                turns.hold.store(false, Ordering::SeqCst);
                EVERY
            }
        };
    }
}

impl Checkpointer {
    /// Start checkpointing the database file at `path`, which must be in
    /// WAL mode already.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = direct::open_writer(path)?;
        conn.busy_timeout(RESTART_WAIT)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let turns = Arc::new(Turns::default());
        let under_way = turns.clone();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || run_rounds(&conn, &stopped, &under_way))
            .map_err(|e| {
                StoreError::Invalid(format!("could not start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer {
            stop,
            thread: Mutex::new(Some(thread)),
            turns,
        })
    }

    /// Whether a large batch should hold its next turn for the log's
    /// restart.
    pub(crate) fn holds_turns(&self) -> bool {
        self.turns.holding()
    }

    /// Mark a large batch's turn as under way until the guard is dropped:
    /// the log is not restarted meanwhile.
    pub(crate) fn turn_under_way(&self) -> TurnUnderWay {
        Turns::start(&self.turns)
    }

    /// As `Store::begin_turn`, for a batch writing on a thread of its own:
    /// wait while the log's restart is asked for (a second at most), then
    /// mark the turn as under way.
    pub(crate) fn begin_turn_blocking(&self) -> TurnUnderWay {
        let began = std::time::Instant::now();
        while self.holds_turns() && began.elapsed() < MOST_HOLD {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.turn_under_way()
    }

    /// Stop the thread and wait for it, so that its connection is closed
    /// when this returns.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(thread) = self.thread.lock()
            && let Some(thread) = thread.as_ref()
        {
            thread.thread().unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_after_passive(conn: &Connection) -> Result<i64, StoreError> {
        Ok(checkpoint(conn, "PASSIVE")?.log_frames)
    }

    struct Db {
        _dir: tempfile::TempDir,
        writer: Connection,
        checkpointer: Connection,
        reader: Connection,
    }

    /// A log grown past the restart threshold the way steady lookups grow
    /// it: each commit lands while a reader still holds an older snapshot,
    /// so a passive checkpoint never copies the last frames, and the next
    /// commit appends instead of starting over. The reader is left holding
    /// a snapshot older than the last commit.
    fn grown_log() -> Result<Db, StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let path = dir.path().join("wal.db");
        drop(Connection::open(&path)?);
        let writer = direct::open_writer(&path)?;
        writer.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
        )?;
        let checkpointer = direct::open_writer(&path)?;
        let reader = direct::open_writer(&path)?;
        let mut i = 0;
        loop {
            reader.execute_batch("BEGIN")?;
            reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))?;
            writer.execute("INSERT INTO t (id, v) VALUES (?1, zeroblob(3000))", [i])?;
            i += 1;
            if frames_after_passive(&checkpointer)? > RESTART_AFTER_FRAMES {
                break;
            }
            reader.execute_batch("COMMIT")?;
        }
        Ok(Db {
            _dir: dir,
            writer,
            checkpointer,
            reader,
        })
    }

    #[test]
    fn a_round_restarts_a_long_log_once_its_readers_finish() -> Result<(), StoreError> {
        let db = grown_log()?;
        // Wait long enough for the reader, however slow the machine.
        db.checkpointer.busy_timeout(Duration::from_secs(10))?;
        let reader = db.reader;
        let finishing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            reader.execute_batch("COMMIT")
        });
        Rounds::new().round(&db.checkpointer, &Turns::default())?;
        finishing
            .join()
            .map_err(|_| StoreError::Invalid("reader thread panicked".into()))??;
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        let frames = frames_after_passive(&db.checkpointer)?;
        assert!(frames < 10, "the log was not restarted: {frames} frames");
        Ok(())
    }

    #[test]
    fn a_passive_checkpoint_alone_leaves_the_log_growing() -> Result<(), StoreError> {
        let db = grown_log()?;
        db.checkpointer.busy_timeout(Duration::from_secs(10))?;
        frames_after_passive(&db.checkpointer)?;
        db.reader.execute_batch("COMMIT")?;
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        let frames = frames_after_passive(&db.checkpointer)?;
        assert!(frames > RESTART_AFTER_FRAMES, "{frames} frames");
        Ok(())
    }

    #[test]
    fn a_reader_that_stays_only_delays_the_restart() -> Result<(), StoreError> {
        let db = grown_log()?;
        db.checkpointer.busy_timeout(RESTART_WAIT)?;
        let started = std::time::Instant::now();
        Rounds::new().round(&db.checkpointer, &Turns::default())?;
        assert!(started.elapsed() < Duration::from_secs(5));
        // The writer is not held back by the checkpoint that gave up.
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        db.reader.execute_batch("COMMIT")?;
        Ok(())
    }

    /// A grown log whose reader has finished: a restart can be made.
    fn grown_log_read_through() -> Result<Db, StoreError> {
        let db = grown_log()?;
        db.reader.execute_batch("COMMIT")?;
        db.checkpointer.busy_timeout(RESTART_WAIT)?;
        Ok(db)
    }

    #[test]
    fn a_turn_under_way_puts_the_restart_off_until_it_ends() -> Result<(), StoreError> {
        let db = grown_log_read_through()?;
        let turns = Arc::new(Turns::default());
        let mut rounds = Rounds::new();
        let turn = Turns::start(&turns);
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::PutOff);
        drop(turn);
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::Restarted);
        Ok(())
    }

    #[test]
    fn a_turn_that_ends_during_the_passive_copy_puts_the_restart_off() {
        let turns = Arc::new(Turns::default());
        let ended = turns.ended();
        assert!(turns.quiet_since(ended));
        drop(Turns::start(&turns));
        assert!(!turns.quiet_since(ended), "a turn came and went");
        assert!(turns.quiet_since(turns.ended()));
    }

    #[test]
    fn a_long_log_holds_the_turns_until_it_is_restarted() -> Result<(), StoreError> {
        let db = grown_log_read_through()?;
        let turns = Arc::new(Turns::default());
        let mut rounds = Rounds {
            hold_after: RESTART_AFTER_FRAMES,
        };
        let turn = Turns::start(&turns);
        let held = rounds.round(&db.checkpointer, &turns)?;
        assert_eq!((held, held.next()), (Round::Holding, SOON));
        assert!(turns.holding());

        drop(turn);
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::Restarted);
        assert!(!turns.holding());
        Ok(())
    }

    #[test]
    fn a_reader_that_keeps_the_log_lets_the_turns_go_on() -> Result<(), StoreError> {
        let db = grown_log()?;
        db.checkpointer.busy_timeout(RESTART_WAIT)?;
        let turns = Arc::new(Turns::default());
        let mut rounds = Rounds {
            hold_after: RESTART_AFTER_FRAMES,
        };
        let turn = Turns::start(&turns);
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::Holding);
        drop(turn);
        // The reader still holds its snapshot: the restart gives up, and
        // the turns go on.
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::GaveUp);
        assert!(!turns.holding());

        // They are not held again until the log has grown as much once more.
        let _turn = Turns::start(&turns);
        assert_eq!(rounds.round(&db.checkpointer, &turns)?, Round::PutOff);
        assert!(!turns.holding());
        db.reader.execute_batch("COMMIT")?;
        Ok(())
    }
}
