//! The real `sori-chat` binary, in tmux, against a real server.
//!
//! An in-process server (cheap password hashing, TCP only, SQLite in a
//! file) serves two terminal users, each a `sori-chat` in its own 80x24
//! tmux session, and a third user on a plain `sori-client` connection.
//! They chat in a room (Korean and emoji included) and whisper; then the
//! server restarts on the same database and port, the terminals show the
//! reconnect, resume, and show every line exactly once, the one sent while
//! they were away included. Last, a restarted `sori-chat` logs in with its
//! saved session token and no password.
//!
//! Every wait polls `tmux capture-pane` up to a deadline. Each run uses its
//! own tmux socket (`tmux -L`), killed at the end. Without tmux the test
//! prints why and passes; `scripts/ensure-tmux.sh` installs it (CI runs it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sori_client::{Client, Event, Events};
use sori_core::config::HashCost;
use sori_server::{Config, RunError, Server};
use sori_store::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest wait for anything to show on a screen.
const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminals_and_a_tcp_client_chat_whisper_and_resume() {
    if !tmux_available() {
        println!(
            "SKIPPED two_terminals_and_a_tcp_client_chat_whisper_and_resume: tmux is not \
             installed (bash scripts/ensure-tmux.sh installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sori.db");
    let server = TestServer::start(&db, "127.0.0.1:0".parse().expect("address")).await;
    let addr = server.addr;

    // amy has an account already; bo registers from the terminal.
    let (setup, _) = Client::connect(addr).await.expect("connect");
    setup
        .register("amy", PASSWORD, "Amy")
        .await
        .expect("register amy");
    setup.close();

    let tmux = Tmux::new(dir.path());
    tmux.start("amy", &addr, "amy");
    tmux.start("bora", &addr, "bora");
    tmux.wait("amy", "the login screen", |s| s.contains("Sori — log in"));
    tmux.text("amy", PASSWORD);
    tmux.keys("amy", &["Enter"]);
    tmux.wait("bora", "the login screen", |s| s.contains("Sori — log in"));
    tmux.keys("bora", &["F2"]);
    tmux.text("bora", PASSWORD);
    tmux.keys("bora", &["Tab"]);
    tmux.text("bora", "보");
    tmux.keys("bora", &["Enter"]);
    tmux.wait("amy", "amy logged in", |s| s.contains("logged in as Amy"));
    tmux.wait("bora", "bo logged in", |s| s.contains("logged in as 보"));

    // A room, joined by both terminals and the TCP client.
    tmux.line("amy", "/create den a quiet room");
    tmux.wait("amy", "amy in #den", |s| s.contains("#den — a quiet room"));
    tmux.line("bora", "/join den");
    tmux.wait("bora", "bo in #den", |s| s.contains("#den — a quiet room"));
    let (cy, mut cy_events) = Client::connect(addr).await.expect("connect");
    cy.register("cyan", PASSWORD, "Cy")
        .await
        .expect("register cy");
    cy.login("cyan", PASSWORD).await.expect("login cy");
    cy.join_room("den", 0, 0).await.expect("cy joins");

    tmux.line("amy", "hello from amy");
    tmux.wait("bora", "amy's line", |s| s.contains("Amy: hello from amy"));
    tmux.line("bora", "안녕하세요 from bo 👋");
    tmux.wait("amy", "bo's line", |s| {
        s.contains("보: 안녕하세요 from bo 👋")
    });
    cy.chat_in("den", "hi from cy").await.expect("cy chats");
    for who in ["amy", "bora"] {
        tmux.wait(who, "cy's line", |s| s.contains("Cy: hi from cy"));
    }
    for text in ["hello from amy", "안녕하세요 from bo 👋"] {
        wait_chat(&mut cy_events, text).await;
    }

    // Whispers: from the other terminal and from the TCP client show as
    // conversations with badges; opening one shows the text.
    tmux.line("bora", "/w amy psst amy");
    tmux.wait("bora", "bo's whisper", |s| s.contains("보: psst amy"));
    cy.whisper("amy", "a secret from cy")
        .await
        .expect("cy whispers");
    tmux.wait("amy", "whisper badges", |s| {
        s.lines()
            .any(|l| l.starts_with(" @보") && l.contains("1 @1"))
            && s.lines()
                .any(|l| l.starts_with(" @Cy") && l.contains("1 @1"))
    });
    tmux.line("amy", "/w bora");
    tmux.wait("amy", "the whisper", |s| s.contains("보: psst amy"));
    tmux.line("amy", "got it");
    tmux.wait("bora", "amy's whisper", |s| s.contains("Amy: got it"));
    tmux.line("amy", "/join den");
    tmux.line("bora", "/join den");
    for who in ["amy", "bora"] {
        tmux.wait(who, "back in #den", |s| s.contains("#den — a quiet room"));
    }

    // The server restarts on the same database and port. While the
    // terminals are away, cy (reconnected first) says something.
    server.stop().await.expect("server stops");
    for who in ["amy", "bora"] {
        tmux.wait(who, "the reconnect", |s| s.contains("reconnecting…"));
    }
    let server = TestServer::start(&db, addr).await;
    let (cy, mut cy_events) = Client::connect(addr).await.expect("reconnect cy");
    cy.login("cyan", PASSWORD).await.expect("login cy");
    cy.join_room("den", 0, 0).await.expect("cy joins again");
    cy.chat_in("den", "while you were away")
        .await
        .expect("cy chats");
    for who in ["amy", "bora"] {
        let screen = tmux.wait(who, "the resume", |s| {
            s.contains("● resumed") && s.contains("while you were away")
        });
        for line in [
            "hello from amy",
            "안녕하세요 from bo 👋",
            "hi from cy",
            "while you were away",
        ] {
            assert_eq!(
                screen.matches(line).count(),
                1,
                "{line:?} once on {who}'s screen:\n{screen}"
            );
        }
    }
    tmux.line("amy", "after the restart");
    let screen = tmux.wait("bora", "amy after the restart", |s| {
        s.contains("Amy: after the restart")
    });
    assert_eq!(screen.matches("while you were away").count(), 1, "{screen}");
    wait_chat(&mut cy_events, "after the restart").await;

    // A restarted client logs in with its saved session, no password.
    let token = dir.path().join("state-amy");
    let token = std::fs::read_dir(&token)
        .expect("amy's state dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("token-"))
        });
    if let Some(token) = token {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&token)
                .expect("token file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", token.display());
        }
        tmux.keys("amy", &["C-c"]);
        tmux.wait_gone("amy");
        tmux.start("amy", &addr, "amy");
        let screen = tmux.wait("amy", "login by token", |s| s.contains("logged in as Amy"));
        assert!(!screen.contains("Sori — log in"), "{screen}");
    } else {
        println!("the server gave no session token: restart by token not checked");
    }

    drop(tmux);
    server.stop().await.expect("server stops");
}

/// Waits for `text` among cy's chat messages.
async fn wait_chat(events: &mut Events, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Event::Chat(msg)) if msg.text == text => return,
            Ok(Event::Closed) => panic!("cy's connection closed waiting for {text:?}"),
            Ok(_) => {}
            Err(_) => panic!("cy never got {text:?}"),
        }
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A tmux server of this test's own, killed on drop.
struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    fn new(dir: &Path) -> Self {
        let socket = format!("sori-chat-test-{}", std::process::id());
        Tmux {
            socket,
            dir: dir.to_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-u", "-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Starts `sori-chat` for `user` in an 80x24 session of that name,
    /// with its own state folder and no config file.
    fn start(&self, user: &str, addr: &SocketAddr, session: &str) {
        let state = self.dir.join(format!("state-{user}"));
        let config = self.dir.join("no-config");
        let out = self.run(&[
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "-s",
            session,
            "env",
            "LANG=C.UTF-8",
            "TERM=xterm-256color",
            &format!("SORI_CHAT_STATE={}", state.display()),
            &format!("XDG_CONFIG_HOME={}", config.display()),
            env!("CARGO_BIN_EXE_sori-chat"),
            "--server",
            &addr.to_string(),
            "--user",
            user,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
    }

    /// Presses keys by tmux name (`Enter`, `F2`, `C-c`).
    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys: {out:?}");
    }

    /// Types text as it is.
    fn text(&self, session: &str, text: &str) {
        let out = self.run(&["send-keys", "-t", session, "-l", text]);
        assert!(out.status.success(), "tmux send-keys -l: {out:?}");
    }

    /// Types a line and presses Enter.
    fn line(&self, session: &str, text: &str) {
        self.text(session, text);
        self.keys(session, &["Enter"]);
    }

    fn capture(&self, session: &str) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `done` holds, up to [`WAIT`]; returns it.
    #[track_caller]
    fn wait(&self, session: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.capture(session);
            if done(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("{session}'s screen never showed {what}:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for a session to end (its program exited).
    fn wait_gone(&self, session: &str) {
        let deadline = Instant::now() + WAIT;
        while self.run(&["has-session", "-t", session]).status.success() {
            assert!(Instant::now() < deadline, "{session} did not exit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The socket file outlives the server; remove it too.
        let socket = self.run(&["display-message", "-p", "#{socket_path}"]);
        let _ = self.run(&["kill-server"]);
        let socket = String::from_utf8_lossy(&socket.stdout).trim().to_owned();
        if !socket.is_empty() {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// An in-process server on a SQLite file.
struct TestServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), RunError>>,
}

impl TestServer {
    async fn start(db: &Path, addr: SocketAddr) -> TestServer {
        let store = SqliteStore::open(db).await.expect("open sqlite");
        let listener = sori_server::bind(addr).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let config = Config {
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
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::new(config, Arc::new(store));
        let task = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        TestServer { addr, stop, task }
    }

    async fn stop(self) -> Result<(), RunError> {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .expect("server task does not panic")
    }
}
