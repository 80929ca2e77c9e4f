//! Real services for the cluster tests: a `redis-server` of the test's own
//! on a free port (so it can be stopped and restarted), a fresh schema in
//! the PostgreSQL at `SORI_TEST_POSTGRES`, and Sori nodes, in this process
//! or as child processes of the real binary.
//!
//! Without `redis-server` or PostgreSQL a test prints `SKIPPED (...)` and
//! passes, so a developer's `cargo test` works anywhere; with `CI=true` it
//! fails instead, since CI machines have both and a skipped suite proves
//! nothing.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sori_bus::{ClusterConfig, RedisBus};
use sori_client::{Client, Event, Events};
use sori_core::config::HashCost;
use sori_protocol::pb::{self, ErrorCode};
use sori_server::{Config, Server};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password every test user gets.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// Longest any single expected event may take to arrive.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Says plainly why a test cannot run here, and whether that fails it.
fn skip<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{test}: {why}, which CI=true requires");
    }
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED ({why})");
    None
}

/// The services a cluster test runs on: its own Redis and a fresh schema.
pub(crate) struct Services {
    pub(crate) redis: Redis,
    pub(crate) pg: Pg,
}

impl Services {
    /// Starts Redis and makes a schema, or says why not (see the module).
    pub(crate) async fn start(test: &str) -> Option<Services> {
        let redis = match Redis::start() {
            Ok(redis) => redis,
            Err(why) => return skip(test, &why),
        };
        let pg = match Pg::fresh().await {
            Ok(pg) => pg,
            Err(why) => return skip(test, &why),
        };
        Some(Services { redis, pg })
    }

    /// A node in this process, with the test defaults.
    pub(crate) async fn node(&self, id: &str) -> Node {
        self.node_with(id, config()).await
    }

    /// A node in this process.
    pub(crate) async fn node_with(&self, id: &str, config: Config) -> Node {
        Node::start(&self.pg.url, &self.redis.url(), id, config).await
    }

    /// Drops the schema.
    pub(crate) async fn finish(self) {
        self.pg.drop().await;
    }
}

/// A `redis-server` of the test's own, keeping nothing on disk.
pub(crate) struct Redis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Result<Redis, String> {
        let port = free_port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut redis = Redis {
            port,
            dir,
            child: None,
        };
        redis.spawn()?;
        Ok(redis)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("no redis-server to start: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server on port {} did not answer", self.port))
    }

    /// The URL nodes connect to.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs one command (RESP over a plain socket) and returns the raw
    /// reply.
    pub(crate) fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).expect("send");
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).expect("reply");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Kills the server: everything it held is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub(crate) fn restart(&mut self) {
        self.spawn().expect("redis-server restarts");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// A schema of its own in the test PostgreSQL, named in `url`.
pub(crate) struct Pg {
    /// The database URL nodes use (its search path is the schema).
    pub(crate) url: String,
    server_url: String,
    schema: String,
}

impl Pg {
    async fn fresh() -> Result<Pg, String> {
        let server_url =
            std::env::var("SORI_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&server_url),
        )
        .await
        .map_err(|_| format!("no PostgreSQL answered at {server_url}"))?
        .map_err(|e| format!("no PostgreSQL at {server_url}: {e}"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let schema = format!("sori_cluster_{}_{nanos:x}", std::process::id());
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .map_err(|e| e.to_string())?;
        let _ = admin.close().await;
        let separator = if server_url.contains('?') { '&' } else { '?' };
        Ok(Pg {
            url: format!("{server_url}{separator}options[search_path]={schema}"),
            server_url,
            schema,
        })
    }

    async fn drop(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.server_url).await {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.schema))
                .execute(&mut admin)
                .await;
            let _ = admin.close().await;
        }
    }
}

/// The test configuration: cheap password hashes, no rate limits, no
/// status line.
pub(crate) fn config() -> Config {
    Config {
        limits: sori_server::rate::LimitsConfig::unlimited(),
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

/// A node running in this process.
pub(crate) struct Node {
    pub(crate) addr: SocketAddr,
    /// Where `/metrics` and `/readyz` are served.
    pub(crate) metrics_addr: SocketAddr,
    pub(crate) metrics: Arc<sori_core::metrics::Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), sori_server::RunError>>,
}

impl Node {
    async fn start(pg_url: &str, redis_url: &str, id: &str, mut config: Config) -> Node {
        let store = sori_store::PgStore::connect(pg_url)
            .await
            .expect("connect to the test schema");
        let mut cluster = ClusterConfig::new(redis_url, id);
        cluster.presence_ttl = config.cluster.presence_ttl;
        cluster.check_every = Duration::from_millis(500);
        let bus = RedisBus::connect(cluster).await.expect("connect to redis");
        config.database = PathBuf::from(pg_url);
        let metrics_addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        config.metrics_listen = Some(metrics_addr);
        let listener = sori_server::bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let ws = sori_server::bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        let server = Server::new(config, Arc::new(store)).with_cluster(Arc::new(bus));
        let metrics = server.metrics();
        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = vec![
            sori_server::Listener::Tcp(listener),
            sori_server::Listener::WebSocket(ws),
        ];
        let task = tokio::spawn(server.run(listeners, async {
            let _ = stopped.await;
        }));
        // Accepting once the listener answers a Hello.
        let (client, _events) = connect(addr).await;
        client.hello().await.expect("the node answers");
        client.close();
        Node {
            addr,
            metrics_addr,
            metrics,
            stop: Some(stop),
            task,
        }
    }

    /// Registers `name` (on the shared database) and logs in here.
    pub(crate) async fn user(&self, name: &str) -> (Client, Events) {
        let (client, events) = connect(self.addr).await;
        client.register(name, PASSWORD, "").await.expect("register");
        client.login(name, PASSWORD).await.expect("login");
        (client, events)
    }

    /// Logs in here as an existing user.
    pub(crate) async fn login(&self, name: &str) -> (Client, Events) {
        let (client, events) = connect(self.addr).await;
        client.login(name, PASSWORD).await.expect("login");
        (client, events)
    }

    /// Shuts the node down gracefully.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("node stops in time")
            .expect("node task does not panic")
            .expect("node runs cleanly");
    }
}

impl Node {
    /// The status line of `GET /readyz`, and the body.
    pub(crate) async fn readyz(&self) -> (String, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .expect("connect to metrics_listen");
        stream
            .write_all(b"GET /readyz HTTP/1.0\r\n\r\n")
            .await
            .expect("send");
        let mut text = String::new();
        stream.read_to_string(&mut text).await.expect("read");
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.lines().next().unwrap_or("").to_owned();
        (status, body.to_owned())
    }
}

/// Connects a client.
pub(crate) async fn connect(addr: SocketAddr) -> (Client, Events) {
    Client::connect(addr).await.expect("connect")
}

/// A node as a child process of the real binary, to be killed for real.
pub(crate) struct ChildNode {
    pub(crate) addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl ChildNode {
    /// Starts `sori-server` with `extra` TOML lines.
    pub(crate) async fn start(services: &Services, id: &str, extra: &str) -> ChildNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let ws_port = free_port();
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\nws_listen = \"127.0.0.1:{ws_port}\"\n\
             database = \"{db}\"\nstatus_interval = \"0s\"\n{extra}\n\
             [password_hash]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n\
             [cluster]\nredis = \"{redis}\"\nnode_id = \"{id}\"\npresence_ttl = \"3s\"\n\
             check_every = \"500ms\"\n",
            db = services.pg.url,
            redis = services.redis.url(),
        );
        let path = dir.path().join("sori.toml");
        std::fs::write(&path, toml).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_sori-server"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start sori-server");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((client, _events)) = Client::connect(addr).await
                && client.hello().await.is_ok()
            {
                client.close();
                break;
            }
            assert!(Instant::now() < deadline, "node {id} did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ChildNode {
            addr,
            child,
            _dir: dir,
        }
    }

    /// SIGKILL: no shutdown, no goodbye.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next event, within [`WAIT`].
pub(crate) async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event in time")
}

/// Waits for an event that `wanted` picks, skipping the others.
pub(crate) async fn until(events: &mut Events, wanted: impl Fn(&Event) -> bool) {
    while !wanted(&next(events).await) {}
}

/// The next chat message, skipping other events.
pub(crate) async fn next_chat(events: &mut Events) -> pb::ChatMessage {
    loop {
        if let Event::Chat(msg) = next(events).await {
            return msg;
        }
    }
}

/// Waits for the session to be kicked with `code`.
pub(crate) async fn expect_kicked(events: &mut Events, code: ErrorCode) {
    loop {
        match next(events).await {
            Event::Kicked { code: got, .. } => {
                assert_eq!(got, code, "kicked for the wrong reason");
                return;
            }
            Event::Closed => panic!("closed without a Kicked"),
            _ => {}
        }
    }
}

/// Polls `cond` until it holds, or fails after [`WAIT`].
pub(crate) async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The usernames `client` sees online.
pub(crate) async fn online(client: &Client) -> Vec<String> {
    client
        .list_users()
        .await
        .expect("list users")
        .into_iter()
        .map(|u| u.username)
        .collect()
}
