//! Arbitrary bytes sent to a real in-process server over loopback TCP.
//!
//! One server (SQLite in memory, cheap password hashes) starts on first use
//! and serves every input. The first input byte picks a mode: odd means a
//! valid Login for a registered user goes first, so the bytes reach the
//! logged-in handlers (chat, rooms, whispers). The rest is written, our side
//! of the connection is shut, and the answer is read until the server
//! closes. Then a fresh connection must get its Ping answered.
//!
//! A panic in any server task aborts the process (libFuzzer's panic hook),
//! so it is reported with its input. A server that stops accepting or
//! answering, or that keeps a finished connection open, fails the Ping or
//! close check below.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sori_protocol::{Frame, Message, decode, encode_to_bytes, pb};
use sori_core::config::HashCost;
use sori_server::{Config, Server};
use sori_store::SqliteStore;

const USERNAME: &str = "fuzzer";
const PASSWORD: &str = "correct horse battery";

/// How long the server gets to close a connection after our side shut, and
/// to answer a Ping. Generous: a sanitizer build is slow, and a miss is
/// reported as a bug.
const PATIENCE: Duration = Duration::from_secs(5);

struct Harness {
    addr: SocketAddr,
    /// Keeps the server's worker threads alive for the whole run.
    _runtime: tokio::runtime::Runtime,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(start);
    let (mode, bytes) = data
        .split_first()
        .map_or((0, data), |(mode, rest)| (*mode, rest));

    let mut conn = connect(harness.addr);
    let mut input = Vec::with_capacity(bytes.len() + 64);
    if mode & 1 == 1 {
        let login = Message::Login(pb::Login {
            username: USERNAME.to_owned(),
            password: PASSWORD.to_owned(),
            token: String::new(),
        });
        input.extend_from_slice(&encode_to_bytes(1, &login));
    }
    input.extend_from_slice(bytes);
    // The server may close first (bad magic, too large): a failed write or
    // shutdown is an answer, not an error.
    let _ = conn.write_all(&input);
    let _ = conn.shutdown(Shutdown::Write);
    let closed = read_to_close(&mut conn, PATIENCE);
    assert!(
        closed,
        "the server kept the connection open {PATIENCE:?} after the client's end"
    );

    ping(harness.addr);
});

/// Starts the server on a runtime of its own and registers the test user.
fn start() -> Harness {
    // libFuzzer's main replaces Rust's, which would have done this: without
    // it a write to a socket the peer closed kills the process.
    // SAFETY: setting a signal disposition to SIG_IGN at startup, before any
    // other thread of ours exists, has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = Config {
        status_interval: None,
        password_hash: HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        },
        // Many connections from one address, fast: past the real limits.
        limits: sori_server::rate::LimitsConfig::unlimited(),
        ..Config::default()
    };
    let addr = runtime.block_on(async {
        let store = SqliteStore::in_memory().await.expect("in-memory sqlite");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = Server::new(config, Arc::new(store));
        tokio::spawn(async move {
            server
                .run(listener, std::future::pending::<()>())
                .await
                .expect("server runs");
            panic!("the server stopped without being asked");
        });
        addr
    });
    register(addr);
    Harness {
        addr,
        _runtime: runtime,
    }
}

/// A connection that closes with a reset rather than lingering in
/// TIME_WAIT: at thousands of connections a second the ephemeral ports
/// would otherwise run out.
fn connect(addr: SocketAddr) -> TcpStream {
    let conn = TcpStream::connect(addr).expect("the server accepts");
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid open socket, and a pointer to a live `linger` of the
    // size passed.
    let res = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(res, 0, "SO_LINGER");
    conn.set_nodelay(true).expect("TCP_NODELAY");
    conn
}

/// Reads and drops everything until the server closes; false on timeout.
fn read_to_close(conn: &mut TcpStream, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        conn.set_read_timeout(Some(left)).expect("read timeout");
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            // A reset is a close too.
            Err(_) => return true,
        }
    }
}

/// Sends a request and returns the answer to it, skipping pushes.
fn request(conn: &mut TcpStream, request_id: u32, message: &Message) -> Message {
    conn.write_all(&encode_to_bytes(request_id, message))
        .expect("write request");
    let deadline = Instant::now() + PATIENCE;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match decode(&buf, u32::MAX) {
            Ok((
                Frame {
                    request_id: id,
                    message,
                },
                used,
            )) => {
                buf.drain(..used);
                if id == request_id {
                    return message;
                }
            }
            Err(sori_protocol::DecodeError::Incomplete) => {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "no answer to {message:?} within {PATIENCE:?}"
                );
                conn.set_read_timeout(Some(left)).expect("read timeout");
                match conn.read(&mut chunk) {
                    Ok(0) => panic!("the server closed instead of answering {message:?}"),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    // libFuzzer's timers send signals, and a socket read
                    // with a timeout is not restarted after one (signal(7)).
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => panic!("no answer to {message:?}: {err}"),
                }
            }
            Err(err) => panic!("the server sent a bad frame: {err}"),
        }
    }
}

/// The server still accepts and answers: a Ping on a fresh connection.
fn ping(addr: SocketAddr) {
    let mut conn = connect(addr);
    let nonce = 0x5052_4f42_45u64;
    match request(&mut conn, 7, &Message::Ping(pb::Ping { nonce })) {
        Message::Pong(pong) => assert_eq!(pong.nonce, nonce),
        other => panic!("Ping answered with {other:?}"),
    }
}

/// Registers the user whose Login the odd modes send.
fn register(addr: SocketAddr) {
    let mut conn = connect(addr);
    let register = Message::Register(pb::Register {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
        display_name: String::new(),
    });
    match request(&mut conn, 1, &register) {
        Message::Ok(_) => {}
        other => panic!("Register answered with {other:?}"),
    }
}
