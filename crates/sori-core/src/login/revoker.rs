//! Revoking the session tokens of logouts off the request path (group
//! commit, as the persister does for messages).
//!
//! A Logout hands its token's hash to the revoker, with the session to
//! answer, and the session goes on (idle, its read buffer and request state
//! freed) rather than waiting. The revoker deletes every hash queued since
//! its last write in one transaction, one fsync for the lot where a
//! transaction per logout cost one fsync each, one after another, and only
//! then answers: each Logout's Ok, then the session's end. A Logout's Ok
//! still means "the token is revoked, on disk". Callers that would rather
//! wait get a oneshot instead.

use std::sync::{Arc, Mutex};

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{TokenHash, TokenStore};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::peer::Peer;
use crate::refusal::Refusal;

/// Most hashes revoked in one transaction.
const MAX_BATCH: usize = 1024;

/// A revocation on its way to disk, and whom to tell once it is there.
struct Pending {
    hash: TokenHash,
    waiter: Waiter,
}

/// Whom a revocation answers.
enum Waiter {
    /// A caller awaiting it: sent `true` once the token is gone from the
    /// store, `false` if the write failed. A caller that gave up has
    /// dropped its receiver; its token is revoked all the same.
    Caller(oneshot::Sender<bool>),
    /// A session's Logout (request `request_id`): once revoked, its Ok and
    /// then its end (a Kicked LOGGED_OUT) are queued to the session; if the
    /// write failed, an INTERNAL refusal, and its end all the same.
    Logout { peer: Arc<Peer>, request_id: u32 },
}

/// The sending side of the revoker.
pub(crate) struct Revoker {
    /// `None` once closed: the task then revokes what is queued and ends.
    /// std Mutex: held only to clone or take the sender.
    tx: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
}

impl Revoker {
    /// Starts the revoker task.
    pub(crate) fn start(store: Arc<dyn TokenStore>) -> (Revoker, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, rx));
        (
            Revoker {
                tx: Mutex::new(Some(tx)),
            },
            task,
        )
    }

    /// Queues the revocation of `hash`. Never waits. The receiver gets
    /// `true` once the token is revoked on disk, `false` if the write
    /// failed; `None` once closed.
    pub(crate) fn submit(&self, hash: TokenHash) -> Option<oneshot::Receiver<bool>> {
        let (done, answer) = oneshot::channel();
        self.send(Pending {
            hash,
            waiter: Waiter::Caller(done),
        })
        .then_some(answer)
    }

    /// Queues the revocation of `hash` for `peer`'s Logout (request
    /// `request_id`), which the revoker answers and ends. Never waits.
    /// Returns false once closed.
    pub(crate) fn logout(&self, hash: TokenHash, peer: Arc<Peer>, request_id: u32) -> bool {
        self.send(Pending {
            hash,
            waiter: Waiter::Logout { peer, request_id },
        })
    }

    fn send(&self, pending: Pending) -> bool {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        tx.as_ref().is_some_and(|tx| tx.send(pending).is_ok())
    }

    /// Stops taking revocations; the task writes what is queued and ends.
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

async fn run(store: Arc<dyn TokenStore>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut hashes: Vec<TokenHash> = Vec::with_capacity(MAX_BATCH);
    loop {
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        hashes.extend(batch.iter().map(|pending| pending.hash));
        let revoked = match store.revoke_token_hashes(&hashes).await {
            Ok(n_revoked) => {
                tracing::debug!(n = hashes.len(), n_revoked, "session tokens revoked");
                true
            }
            Err(err) => {
                tracing::error!(%err, n = hashes.len(), "revoking session tokens failed; logouts get INTERNAL");
                false
            }
        };
        hashes.clear();
        for pending in batch.drain(..) {
            answer(pending.waiter, revoked);
        }
    }
}

/// Tells a waiter whether its token was revoked.
fn answer(waiter: Waiter, revoked: bool) {
    match waiter {
        Waiter::Caller(done) => {
            // A caller that is gone needs no answer.
            let _ = done.send(revoked);
        }
        Waiter::Logout { peer, request_id } if revoked => {
            peer.push(&Event::new(request_id, Message::Ok(pb::Ok {})));
            let end = Message::kicked(ErrorCode::LoggedOut, "logged out");
            peer.close(Some(&Event::push(end)));
        }
        Waiter::Logout { peer, request_id } => {
            // The session stopped reading at its Logout: it ends here too,
            // and its client logs in again to try once more.
            peer.close(Some(&Event::new(request_id, not_revoked().to_message())));
        }
    }
}

/// What a Logout whose token could not be revoked is answered with.
pub(crate) fn not_revoked() -> Refusal {
    Refusal::new(
        ErrorCode::Internal,
        "the session token could not be revoked; try again",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use sori_store::{AccountStore, NewAccount, NewToken, SqliteStore};

    use super::*;
    use crate::testing::GatedStore;

    #[tokio::test]
    async fn logouts_queued_together_are_revoked_in_one_batch() {
        let store = Arc::new(GatedStore::new(Arc::new(
            SqliteStore::in_memory().await.unwrap(),
        )));
        let alice = store
            .create_account(NewAccount {
                username: "alice".into(),
                display_name: "alice".into(),
                password_hash: "not checked here".into(),
            })
            .await
            .unwrap();
        let mut tokens = Vec::new();
        for _ in 0..100 {
            let new = NewToken::generate().unwrap();
            store
                .create_token(alice.id, &new.hash, 0, i64::MAX)
                .await
                .unwrap();
            tokens.push(new.hash);
        }
        let (revoker, task) = Revoker::start(store.clone());
        // Queued before the task first runs (one thread, no await since
        // the spawn): all in its first batch.
        let answers: Vec<_> = tokens
            .iter()
            .map(|hash| revoker.submit(*hash).expect("open"))
            .collect();
        for answer in answers {
            assert!(answer.await.unwrap(), "revoked on disk");
        }
        assert_eq!(store.revocation_batches.load(Ordering::Relaxed), 1);
        for hash in &tokens {
            assert_eq!(store.find_token(hash, 0).await.unwrap(), None);
        }

        revoker.close();
        assert!(revoker.submit(tokens[0]).is_none(), "closed");
        task.await.unwrap();
    }
}
