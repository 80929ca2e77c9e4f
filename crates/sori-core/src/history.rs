//! Writing room messages to the database off the fan-out path.
//!
//! A room hands each message to the persister as it fans it out; the
//! persister writes whatever has queued up since its last write in one
//! transaction (group commit), then marks the messages durable in their
//! rooms and only then sends the senders' ChatAcks. Fan-out never waits for
//! the disk, and an ack always means "on disk".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{MessageStore, RoomId, StoredMessage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::metrics::Metrics;
use crate::peer::Peer;
use crate::room::{Gathering, Room};

/// Most messages written in one transaction.
const MAX_BATCH: usize = 1024;

/// Least time between the starts of two writes while messages keep coming.
/// A write (a transaction and its fsync) costs the same whether it holds
/// one message or a hundred; under load, writing as soon as the last write
/// ended made batches of ~30 and spent a third of the server's CPU on the
/// disk and on the thread hand-offs of each write. A message that finds the
/// persister idle, and the last write this long ago, is written at once.
const MIN_WRITE_GAP: std::time::Duration = std::time::Duration::from_millis(5);

/// A message on its way to disk, and whom to ack once it is there.
pub(crate) struct Pending {
    pub(crate) room: Arc<Room>,
    pub(crate) message: StoredMessage,
    pub(crate) sender: Arc<Peer>,
    pub(crate) request_id: u32,
}

/// The sending side of the persister.
pub(crate) struct Persister {
    /// `None` once closed: the task then drains what is queued and ends.
    /// std Mutex: held only to clone or take the sender.
    tx: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
}

impl Persister {
    /// Starts the persister task.
    /// With `ordered_acks` (a bus that numbers off this node), an ack also
    /// waits until its message was delivered here; while rooms gather
    /// (`gathering` is on), it waits for the end of the next flush: either
    /// way it never overtakes a lower number.
    pub(crate) fn start(
        store: Arc<dyn MessageStore>,
        tail_len: usize,
        metrics: Arc<Metrics>,
        ordered_acks: bool,
        gathering: Arc<Gathering>,
    ) -> (Persister, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let answers = Answers {
            ordered_acks,
            gathering,
        };
        let task = tokio::spawn(run(store, rx, tail_len, metrics, answers));
        (
            Persister {
                tx: Mutex::new(Some(tx)),
            },
            task,
        )
    }

    /// Queues a message. Never waits. Returns false once closed.
    pub(crate) fn submit(&self, pending: Pending) -> bool {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match tx.as_ref() {
            Some(tx) => tx.send(pending).is_ok(),
            None => false,
        }
    }

    /// Stops taking messages; the task writes what is queued and ends.
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

async fn run(
    store: Arc<dyn MessageStore>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    tail_len: usize,
    metrics: Arc<Metrics>,
    answers: Answers,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut rows: Vec<StoredMessage> = Vec::with_capacity(MAX_BATCH);
    let mut acks: Vec<(Arc<Room>, Arc<Peer>, u32)> = Vec::with_capacity(MAX_BATCH);
    let mut last_write: Option<tokio::time::Instant> = None;
    loop {
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        match last_write.map(|at| at + MIN_WRITE_GAP) {
            // Under load: gather until the gap has passed.
            Some(next) if next > tokio::time::Instant::now() && batch.len() < MAX_BATCH => {
                tokio::time::sleep_until(next).await;
            }
            // One scheduler pass before the write: the sessions reading
            // right now add their messages to this transaction, not the next.
            _ => tokio::task::yield_now().await,
        }
        last_write = Some(tokio::time::Instant::now());
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        for pending in batch.drain(..) {
            rows.push(pending.message);
            acks.push((pending.room, pending.sender, pending.request_id));
        }
        let res = store.append_messages(&rows).await;
        match res {
            Ok(()) => {
                metrics.messages_stored.add(rows.len() as u64);
                mark_durable(&acks, &rows, tail_len);
                for ((room, sender, request_id), row) in acks.drain(..).zip(rows.drain(..)) {
                    let ack = Message::ChatAck(pb::ChatAck {
                        room: room.name.clone(),
                        seq: row.seq,
                        timestamp_ms: row.timestamp_ms,
                    });
                    answers.ack(&room, row.seq, sender, Event::new(request_id, ack));
                }
            }
            Err(err) => {
                tracing::error!(%err, n = rows.len(), "writing messages failed; senders get INTERNAL");
                // Lost to the disk: let the rooms' tails forget them in time.
                mark_durable(&acks, &rows, tail_len);
                rows.clear();
                for (_, sender, request_id) in acks.drain(..) {
                    let refusal = Message::error(
                        ErrorCode::Internal,
                        "the message was delivered but could not be stored; it may be lost",
                    );
                    answers.answer(sender, Event::new(request_id, refusal.clone()));
                }
            }
        }
    }
}

/// How the persister's answers reach their senders.
struct Answers {
    /// A bus numbers off this node: an ack waits for its message to be
    /// delivered here.
    ordered_acks: bool,
    /// While rooms gather, answers wait for the end of the next flush.
    gathering: Arc<Gathering>,
}

impl Answers {
    /// Sends the ack of message `seq` of `room`.
    fn ack(&self, room: &Room, seq: u64, sender: Arc<Peer>, ack: Event) {
        if self.ordered_acks {
            room.lock().ack_when_delivered(seq, sender, ack);
        } else {
            self.answer(sender, ack);
        }
    }

    /// Sends an ack, or the error that replaces it, in its turn.
    fn answer(&self, sender: Arc<Peer>, answer: Event) {
        if self.gathering.is_on() {
            self.gathering.after_flush(sender, answer);
        } else {
            sender.push(&answer);
        }
    }
}

/// Tells each room of a written batch how far its messages are on disk.
fn mark_durable(acks: &[(Arc<Room>, Arc<Peer>, u32)], rows: &[StoredMessage], tail_len: usize) {
    let mut durable: HashMap<RoomId, (&Arc<Room>, u64)> = HashMap::new();
    for ((room, _, _), row) in acks.iter().zip(rows) {
        let entry = durable.entry(room.id).or_insert((room, 0));
        entry.1 = entry.1.max(row.seq);
    }
    for (room, seq) in durable.into_values() {
        room.lock().mark_durable(seq, tail_len);
    }
}
