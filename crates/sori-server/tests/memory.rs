//! Memory: thousands of connections opened and dropped abruptly leave
//! nothing behind.
//!
//! A binary of its own: RSS is a figure for the whole process, and tests
//! running beside this one in a shared binary would move it (cargo runs
//! test binaries one at a time).

use sori_protocol::{MAGIC, PROTOCOL_VERSION};

use crate::support::{eventually, next_chat};

// The integration tests' helpers; this binary uses a few of them.
#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

fn rss_bytes() -> u64 {
    // Give freed memory back first, so the figure is what is in use.
    // SAFETY: malloc_trim only releases free heap memory; it is safe to
    // call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_connections_dropped_abruptly_leave_nothing_behind() {
    const N: usize = 5_000;
    let server = support::start(support::config()).await;
    let (alice, _ae) = server.user("alice").await;
    let (_bob, mut bob_events) = server.user("bob").await;
    let baseline = rss_bytes();
    let mut conns = Vec::with_capacity(N);
    for chunk in 0..N / 500 {
        let mut opening = tokio::task::JoinSet::new();
        for i in 0..500 {
            let addr = server.addr;
            opening.spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                // A third send half a header, a third garbage, a third nothing.
                let n = chunk * 500 + i;
                let bytes: &[u8] = match n % 3 {
                    0 => &[MAGIC, PROTOCOL_VERSION, 11],
                    1 => b"\xff\xfe garbage",
                    _ => &[],
                };
                let _ = stream.try_write(bytes);
                stream
            });
        }
        while let Some(stream) = opening.join_next().await {
            conns.push(stream.unwrap());
        }
    }
    // A few may still sit in the listen backlog; the rest are sessions.
    eventually("the connections are accepted", || {
        server.metrics.accepts.get() >= (N as u64) * 9 / 10
    })
    .await;
    // Drop them all at once, with a reset rather than a goodbye.
    for stream in &conns {
        let _ = stream.set_zero_linger();
    }
    drop(conns);
    eventually("every dropped session ends", || {
        server.metrics.sessions.get() == 2
    })
    .await;
    // Memory returns near where it was.
    let after = rss_bytes();
    assert!(
        after < baseline + 16 * 1024 * 1024,
        "RSS {after} after, {baseline} before"
    );
    // The two real users never noticed, and nothing acknowledged is lost.
    let ack = alice.chat("still here").await.unwrap();
    let msg = next_chat(&mut bob_events).await;
    assert_eq!((msg.seq, msg.text.as_str()), (ack.seq, "still here"));
    server.stop().await.unwrap();
}
