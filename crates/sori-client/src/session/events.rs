//! [`SessionEvents::next`]: the resumed history first, then the new
//! connection's pushes, each chat message once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use sori_protocol::pb;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::events::{Event, Events};
use crate::seq_tracker::SeqTracker;
use crate::session::{Handover, SessionEvents, StreamState, lock};

impl SessionEvents {
    pub(crate) fn new(
        events: Events,
        handovers: mpsc::UnboundedReceiver<Handover>,
        tracker: Arc<Mutex<SeqTracker>>,
        username: String,
    ) -> Self {
        SessionEvents {
            events,
            backlog: VecDeque::new(),
            handovers,
            tracker,
            username,
            state: StreamState::Live,
        }
    }

    /// Waits for the next push. Cancel-safe.
    ///
    /// A chat message at or below the last sequence number delivered in its
    /// room is skipped. When a connection ends, [`Event::Closed`] is
    /// yielded once, unless [`Session::reconnect`](crate::Session::reconnect)
    /// replaced it; after that this waits for a reconnect (and then goes on
    /// with the new connection), or yields `Closed` forever once the
    /// [`Session`](crate::Session) is dropped. A reconnect that fails yields
    /// `Closed` if it was not yielded yet.
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(msg) = self.backlog.pop_front() {
                if lock(&self.tracker).accept(&msg) {
                    return Event::Chat(msg);
                }
                continue;
            }
            let StreamState::Ended { told, reconnecting } = self.state else {
                match self.events.next().await {
                    Event::Closed => {
                        self.state = StreamState::Ended {
                            told: false,
                            reconnecting: false,
                        };
                    }
                    event => {
                        if let Some(event) = self.filter(event) {
                            return event;
                        }
                    }
                }
                continue;
            };
            // The connection has ended: take what the session said, without
            // waiting while there is something to tell.
            let handover = if told || reconnecting {
                self.handovers.recv().await
            } else {
                match self.handovers.try_recv() {
                    Ok(handover) => Some(handover),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        self.state = StreamState::Ended {
                            told: true,
                            reconnecting,
                        };
                        return Event::Closed;
                    }
                }
            };
            match handover {
                Some(Handover::Reconnecting) => {
                    self.state = StreamState::Ended {
                        told,
                        reconnecting: true,
                    };
                }
                Some(Handover::Connected { events, joined }) => self.switch(events, joined),
                Some(Handover::Failed) => {
                    self.state = StreamState::Ended {
                        told,
                        reconnecting: false,
                    };
                }
                // The session is gone: no connection will follow.
                None => {
                    self.state = StreamState::Ended {
                        told: true,
                        reconnecting: false,
                    };
                    return Event::Closed;
                }
            }
        }
    }

    /// Goes over to a new connection: the resumed history first.
    fn switch(&mut self, events: Events, joined: Vec<pb::RoomJoined>) {
        let mut tracker = lock(&self.tracker);
        for room in joined {
            tracker.resumed(&room);
            self.backlog.extend(room.history);
        }
        self.events = events;
        self.state = StreamState::Live;
    }

    /// Records what an event says about rooms; `None` for a duplicate.
    fn filter(&mut self, event: Event) -> Option<Event> {
        match &event {
            Event::Chat(msg) if !lock(&self.tracker).accept(msg) => return None,
            Event::MemberLeft(left) => {
                let is_me = left
                    .user
                    .as_ref()
                    .is_some_and(|user| user.username.eq_ignore_ascii_case(&self.username));
                if is_me {
                    lock(&self.tracker).forget(&left.room);
                }
            }
            _ => {}
        }
        Some(event)
    }
}
