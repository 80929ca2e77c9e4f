//! The history writer: batches of room messages are written on a thread of
//! its own, over a SQLite connection of its own.
//!
//! Under load the persister hands over a batch every few milliseconds, a
//! transaction of a hundred rows or more. Through sqlx each row's values
//! were copied into sqlx's own arguments, sent to the connection's worker
//! thread, bound there (and copied again by SQLite) and stepped, with a
//! thread hand-off per statement: measured at 100 receivers and 3.2 M
//! deliveries/s, that machinery was a third of the writer's CPU and 11% of
//! the server's. Here a batch goes to the thread in one message, packed
//! ([`Packed`]), its rows are bound from that buffer into cached multi-row
//! INSERTs, and one reply comes back.
//!
//! The connection is set up as the pool's are (`synchronous = FULL`, the
//! busy timeout, foreign keys; WAL is the file's) and, like theirs, is
//! closed once idle, so a server with no traffic keeps no page cache for
//! it. The thread ends when the last clone of the store is dropped.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;

use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior, ffi, params};
use tokio::sync::oneshot;

use super::message::insert_messages_sql;
use super::{BUSY_TIMEOUT, IDLE_CONNECTION_TIMEOUT, SqliteStore, chunk_len};
use crate::{RoomId, StoreError, StoredMessage};

/// Most rows one INSERT writes. Rows in one statement share its start
/// and end (a single-row statement per row spent a third of the writer's
/// time starting and halting statements); batches are cut into chunks of
/// this many, then the rest in falling powers of two, so the thread
/// prepares at most seven statements.
const MAX_CHUNK_ROWS: usize = 64;

/// The sending side of the history writer's thread. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct HistoryWriter {
    jobs: mpsc::Sender<Job>,
}

/// A batch as the thread takes it: every row's numbers, and all their
/// strings in one buffer. Two allocations a batch, where a copy of each
/// message was three a row, each freed on the thread (jemalloc's frees of
/// another thread's small objects alone were 2% of the server's CPU).
struct Packed {
    rows: Vec<PackedRow>,
    /// Each row's sender username, sender display name and text, in turn.
    strings: String,
}

struct PackedRow {
    room_id: RoomId,
    seq: i64,
    timestamp_ms: i64,
    sender_id: i64,
    /// The lengths of its three strings in [`Packed::strings`].
    lens: [usize; 3],
}

impl Packed {
    fn new(batch: &[StoredMessage], seqs: &[i64]) -> Self {
        let n_bytes = batch
            .iter()
            .map(|m| m.sender_username.len() + m.sender_display_name.len() + m.text.len())
            .sum();
        let mut strings = String::with_capacity(n_bytes);
        let rows = batch
            .iter()
            .zip(seqs)
            .map(|(message, &seq)| {
                let parts = [
                    &message.sender_username,
                    &message.sender_display_name,
                    &message.text,
                ];
                for part in parts {
                    strings.push_str(part);
                }
                PackedRow {
                    room_id: message.room_id,
                    seq,
                    timestamp_ms: message.timestamp_ms,
                    sender_id: message.sender_id,
                    lens: parts.map(|part| part.len()),
                }
            })
            .collect();
        Packed { rows, strings }
    }
}

enum Job {
    /// Writes a batch and its reservations in one transaction.
    Append {
        batch: Packed,
        reservations: Vec<(RoomId, i64)>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Closes the connection (a later batch opens it again).
    Close { done: oneshot::Sender<()> },
}

impl HistoryWriter {
    /// Starts the thread for the database file at `path`. Its connection
    /// opens with the first batch, once the pool has created and migrated
    /// the file.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let path = path.to_path_buf();
        thread::Builder::new()
            .name("sori-history".into())
            .spawn(move || run(&path, &queue))
            .map_err(|err| StoreError::Backend(err.into()))?;
        Ok(HistoryWriter { jobs })
    }

    /// Writes `batch` (with `seqs`) and raises the reservations, in one
    /// transaction whose commit is the batch's one fsync. A caller that
    /// stops waiting does not stop the write.
    pub(super) async fn append(
        &self,
        batch: &[StoredMessage],
        seqs: &[i64],
        reservations: Vec<(RoomId, i64)>,
    ) -> Result<(), StoreError> {
        let (done, written) = oneshot::channel();
        let job = Job::Append {
            batch: Packed::new(batch, seqs),
            reservations,
            done,
        };
        self.jobs.send(job).map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }

    /// Closes the connection once the batches sent before are written.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

/// The thread: one job at a time, in the order sent.
fn run(path: &Path, queue: &mpsc::Receiver<Job>) {
    // The INSERT of 2^i rows is `inserts[i]`.
    let inserts = (0..=MAX_CHUNK_ROWS.ilog2())
        .map(|i| insert_messages_sql(1 << i))
        .collect::<Vec<_>>();
    let mut conn: Option<Connection> = None;
    loop {
        let job = if conn.is_some() {
            match queue.recv_timeout(IDLE_CONNECTION_TIMEOUT) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    conn = None;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        match job {
            Job::Append {
                batch,
                reservations,
                done,
            } => {
                let result = connection(&mut conn, path)
                    .map_err(backend)
                    .and_then(|opened| append(opened, &inserts, &batch, &reservations));
                if matches!(result, Err(StoreError::Backend(_))) {
                    // Whatever failed (a full disk, a lock held too long),
                    // the next batch starts from a fresh connection.
                    conn = None;
                }
                let _ = done.send(result);
            }
            Job::Close { done } => {
                conn = None;
                let _ = done.send(());
            }
        }
    }
}

/// The open connection, or a new one.
fn connection<'a>(
    conn: &'a mut Option<Connection>,
    path: &Path,
) -> rusqlite::Result<&'a mut Connection> {
    match conn {
        Some(opened) => Ok(opened),
        None => Ok(conn.insert(open(path)?)),
    }
}

pub(super) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn append(
    conn: &mut Connection,
    inserts: &[String],
    batch: &Packed,
    reservations: &[(RoomId, i64)],
) -> Result<(), StoreError> {
    // IMMEDIATE: the write lock is taken (or waited for, up to the busy
    // timeout) at the start, not at the first INSERT.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    {
        let mut strings = batch.strings.as_str();
        let mut rest = batch.rows.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(chunk_len(rest.len(), MAX_CHUNK_ROWS));
            rest = after;
            let mut insert = tx
                .prepare_cached(&inserts[chunk.len().ilog2() as usize])
                .map_err(backend)?;
            // Anonymous parameters, numbered from 1 in the order written.
            let mut param = 0;
            let mut bind = |value: &dyn ToSql| {
                param += 1;
                insert.raw_bind_parameter(param, value)
            };
            for row in chunk {
                bind(&row.room_id).map_err(backend)?;
                bind(&row.seq).map_err(backend)?;
                bind(&row.timestamp_ms).map_err(backend)?;
                bind(&row.sender_id).map_err(backend)?;
                for len in row.lens {
                    let (part, after) = strings.split_at(len);
                    strings = after;
                    bind(&part).map_err(backend)?;
                }
            }
            insert.raw_execute().map_err(classify)?;
        }
        let mut reserve = tx
            .prepare_cached(SqliteStore::RESERVE_SEQ_SQL)
            .map_err(backend)?;
        for (room, up_to) in reservations {
            if reserve.execute(params![room, up_to]).map_err(backend)? == 0 {
                return Err(StoreError::NotFound);
            }
        }
    }
    // A transaction dropped on an error above rolls back.
    tx.commit().map_err(backend)
}

/// A message for a room that does not exist is the caller's mistake
/// ([`StoreError::NotFound`]), as on the pool; anything else (a seq
/// already stored included) is the backend's.
fn classify(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::NotFound
        }
        _ => backend(err),
    }
}

fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.into())
}

fn stopped() -> StoreError {
    StoreError::Backend("the SQLite history writer's thread stopped".into())
}
