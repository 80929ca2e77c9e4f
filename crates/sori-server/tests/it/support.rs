//! Starting an in-process server and driving clients against it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sori_client::raw::RawConnection;
use sori_client::{Client, Event, Events};
use sori_core::config::HashCost;
use sori_core::metrics::Metrics;
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Frame, Message};
use sori_server::{Config, RunError, Server};
use sori_store::{SqliteStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password every test user gets.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// Longest any single expected event may take to arrive.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A configuration for tests: no status line, and cheap password hashes
/// (the real cost is a production setting, not behaviour under test).
pub(crate) fn config() -> Config {
    Config {
        // Tests send faster and from one address far more than a person
        // would; tests/it/hostile.rs checks the real limits.
        limits: generous_limits(),
        status_interval: None,
        shutdown_grace: Duration::from_secs(3),
        password_hash: HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        },
        ..Config::default()
    }
}

/// Rate and per-address limits no ordinary test reaches.
pub(crate) fn generous_limits() -> sori_server::rate::LimitsConfig {
    sori_server::rate::LimitsConfig::unlimited()
}

/// A server running in this process.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    /// The WebSocket listener's address.
    pub(crate) ws_addr: SocketAddr,
    pub(crate) metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RunError>>,
}

/// Starts a server with an in-memory SQLite store.
pub(crate) async fn start(config: Config) -> TestServer {
    let store = SqliteStore::in_memory().await.expect("in-memory sqlite");
    start_with(config, Arc::new(store)).await
}

/// Starts a server on a given store.
pub(crate) async fn start_with(config: Config, store: Arc<dyn Store>) -> TestServer {
    // The binary's deep accept backlog, not tokio's default: tests that
    // open thousands of connections at once would otherwise wait out SYN
    // retransmits.
    let listener = sori_server::bind("127.0.0.1:0".parse().expect("address")).expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let ws = sori_server::bind("127.0.0.1:0".parse().expect("address")).expect("bind port 0");
    let ws_addr = ws.local_addr().expect("local addr");
    let server = Server::new(config, store);
    let metrics = server.metrics();
    let (stop, stopped) = oneshot::channel::<()>();
    let listeners = vec![
        sori_server::Listener::Tcp(listener),
        sori_server::Listener::WebSocket(ws),
    ];
    let task = tokio::spawn(server.run(listeners, async {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        ws_addr,
        metrics,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    /// Connects a client (not logged in).
    pub(crate) async fn connect(&self) -> (Client, Events) {
        Client::connect(self.addr).await.expect("connect")
    }

    /// Registers `name` and logs in as it.
    pub(crate) async fn user(&self, name: &str) -> (Client, Events) {
        let (client, events) = self.connect().await;
        client.register(name, PASSWORD, "").await.expect("register");
        client.login(name, PASSWORD).await.expect("login");
        (client, events)
    }

    /// Registers `name` and sends its Login on a raw connection, which
    /// answers nothing by itself (no Pongs): a client gone silent.
    pub(crate) async fn raw_user(&self, name: &str) -> RawConnection {
        let (setup, _events) = self.connect().await;
        setup.register(name, PASSWORD, "").await.expect("register");
        drop(setup);
        let mut conn = self.raw().await;
        let login = Message::Login(pb::Login {
            username: name.into(),
            password: PASSWORD.into(),
            token: String::new(),
        });
        conn.write_frame(1, &login).await.expect("send Login");
        conn
    }

    /// Opens a raw connection for byte-level tests.
    pub(crate) async fn raw(&self) -> RawConnection {
        RawConnection::connect(self.addr)
            .await
            .expect("raw connect")
    }

    /// Tears the server task down where it stands, without a graceful
    /// shutdown: as close to a crash as an in-process server gets.
    pub(crate) fn crash(self) {
        self.task.abort();
    }

    /// Triggers a graceful shutdown and waits for `run` to return.
    pub(crate) async fn stop(mut self) -> Result<(), RunError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("server stops in time")
            .expect("server task does not panic")
    }
}

/// The next push, or a panic after [`WAIT`].
pub(crate) async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event arrives in time")
}

/// The next chat message, skipping join and leave notices.
pub(crate) async fn next_chat(events: &mut Events) -> pb::ChatMessage {
    loop {
        match next(events).await {
            Event::Chat(msg) => return msg,
            Event::UserJoined(_) | Event::UserLeft(_) => continue,
            other => panic!("expected a chat message, got {other:?}"),
        }
    }
}

/// The next chat message in `room`, skipping every other push (presence,
/// membership, other rooms).
pub(crate) async fn next_chat_in(events: &mut Events, room: &str) -> pb::ChatMessage {
    loop {
        match next(events).await {
            Event::Chat(msg) if msg.room == room => return msg,
            Event::Closed => panic!("connection closed while waiting for a chat in {room:?}"),
            _ => continue,
        }
    }
}

/// The next push that `pick` accepts, skipping the others.
pub(crate) async fn next_where<T>(
    events: &mut Events,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    loop {
        let event = next(events).await;
        if event == Event::Closed {
            panic!("connection closed while waiting for an event");
        }
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

/// Waits for a Kicked push with `code`, then the end of the connection.
pub(crate) async fn expect_kicked(events: &mut Events, code: ErrorCode) {
    loop {
        match next(events).await {
            Event::Kicked { code: got, .. } => {
                assert_eq!(got, code);
                break;
            }
            Event::UserJoined(_) | Event::UserLeft(_) | Event::Chat(_) => continue,
            other => panic!("expected Kicked {code:?}, got {other:?}"),
        }
    }
    assert_eq!(next(events).await, Event::Closed);
}

/// The error code of a failed request.
pub(crate) fn server_code<T: std::fmt::Debug>(
    res: Result<T, sori_client::ClientError>,
) -> ErrorCode {
    match res {
        Err(sori_client::ClientError::Server { code, .. }) => code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// The next frame on a raw connection (None at EOF), within [`WAIT`].
pub(crate) async fn read_raw(conn: &mut RawConnection) -> Option<Frame> {
    tokio::time::timeout(WAIT, conn.read_frame())
        .await
        .expect("a frame arrives in time")
        .expect("a valid frame")
}

/// Reads raw frames until a Kicked one, skipping pushes such as Ping.
pub(crate) async fn read_raw_kicked(conn: &mut RawConnection) -> ErrorCode {
    loop {
        match read_raw(conn).await {
            Some(Frame {
                message: Message::Kicked(kicked),
                ..
            }) => return kicked.code(),
            Some(_) => continue,
            None => panic!("connection closed without a Kicked frame"),
        }
    }
}

/// Reads raw frames until a Kicked one; returns whether a heartbeat Ping
/// (request id 0) came before it, and the Kicked code.
pub(crate) async fn read_raw_pings_until_kicked(conn: &mut RawConnection) -> (bool, ErrorCode) {
    let mut pinged = false;
    loop {
        match read_raw(conn).await {
            Some(Frame {
                request_id: 0,
                message: Message::Ping(_),
            }) => pinged = true,
            Some(Frame {
                message: Message::Kicked(kicked),
                ..
            }) => return (pinged, kicked.code()),
            Some(_) => continue,
            None => panic!("closed without a reason"),
        }
    }
}

/// Waits until `cond` holds, polling; panics after [`WAIT`].
pub(crate) async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
