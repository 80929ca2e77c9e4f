//! The lot with real sockets: it wakes a parked socket's waker when the
//! peer writes (also before it was parked), when it hangs up, and at its
//! deadline; and never after the socket has left.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicUsize;
use std::task::Wake;

use super::*;

/// Counts its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Count {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A connected pair: the server's side (non-blocking, as a session's) and
/// the client's.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (server, client)
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Waits (up to 5 s) until `count` has been woken at least once.
async fn woken(count: &Count) -> Duration {
    let start = Instant::now();
    while count.get() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the waker was not woken"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn wakes_when_the_client_writes() {
    let lot = Lot::start().unwrap();
    let (server, mut client) = pair();
    let count = Arc::new(Count::default());
    let ticket = lot
        .enter(server.as_raw_fd(), Waker::from(count.clone()), far())
        .unwrap();
    assert_eq!(lot.len(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count.get(), 0, "woken with nothing to read");
    client.write_all(b"hello").unwrap();
    woken(&count).await;
    lot.leave(ticket, server.as_raw_fd());
    assert_eq!(lot.len(), 0);
    assert_eq!(lot.capacity(), 0, "an empty lot keeps its table's memory");
}

#[tokio::test]
async fn wakes_at_once_for_bytes_that_came_before_it_parked() {
    let lot = Lot::start().unwrap();
    let (server, mut client) = pair();
    client.write_all(b"early").unwrap();
    // Let the bytes arrive before the socket enters the lot.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let count = Arc::new(Count::default());
    let ticket = lot
        .enter(server.as_raw_fd(), Waker::from(count.clone()), far())
        .unwrap();
    woken(&count).await;
    lot.leave(ticket, server.as_raw_fd());
}

#[tokio::test]
async fn wakes_when_the_client_hangs_up() {
    let lot = Lot::start().unwrap();
    let (server, client) = pair();
    let count = Arc::new(Count::default());
    let ticket = lot
        .enter(server.as_raw_fd(), Waker::from(count.clone()), far())
        .unwrap();
    drop(client);
    woken(&count).await;
    lot.leave(ticket, server.as_raw_fd());
}

#[tokio::test]
async fn wakes_at_the_deadline_and_not_before() {
    let lot = Lot::start().unwrap();
    let (server, _client) = pair();
    let (other, _other_client) = pair();
    // One far deadline first: the thread sleeps towards it, and the near
    // one that parks after it must wake the thread to look again.
    let far_count = Arc::new(Count::default());
    let far_ticket = lot
        .enter(other.as_raw_fd(), Waker::from(far_count.clone()), far())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let count = Arc::new(Count::default());
    let parked_at = Instant::now();
    let ticket = lot
        .enter(
            server.as_raw_fd(),
            Waker::from(count.clone()),
            parked_at + Duration::from_millis(200),
        )
        .unwrap();
    woken(&count).await;
    assert!(
        parked_at.elapsed() >= Duration::from_millis(200),
        "woken {:?} after parking, before its deadline",
        parked_at.elapsed()
    );
    assert_eq!(count.get(), 1, "a deadline wakes once");
    assert_eq!(far_count.get(), 0, "the far deadline woke too");
    lot.leave(ticket, server.as_raw_fd());
    lot.leave(far_ticket, other.as_raw_fd());
}

#[tokio::test]
async fn does_not_wake_a_socket_that_left() {
    let lot = Lot::start().unwrap();
    let (server, mut client) = pair();
    let count = Arc::new(Count::default());
    let ticket = lot
        .enter(
            server.as_raw_fd(),
            Waker::from(count.clone()),
            Instant::now() + Duration::from_millis(100),
        )
        .unwrap();
    lot.leave(ticket, server.as_raw_fd());
    client.write_all(b"late").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count.get(), 0);
    assert_eq!(lot.len(), 0);
}

#[tokio::test]
async fn stop_lets_go_of_what_is_parked() {
    let lot = Lot::start().unwrap();
    let (server, _client) = pair();
    let count = Arc::new(Count::default());
    lot.enter(server.as_raw_fd(), Waker::from(count.clone()), far())
        .unwrap();
    assert_eq!(Arc::strong_count(&count), 2);
    lot.stop();
    assert_eq!(Arc::strong_count(&count), 1, "the lot kept the waker");
    assert_eq!(lot.len(), 0);
}

/// Stands in for a parked session: counts its wakes and, as a woken
/// session does when its task is spawned, tells the lot it is waking.
struct Spawns {
    lot: Arc<Lot>,
    woken: Arc<Count>,
}

impl Wake for Spawns {
    fn wake(self: Arc<Self>) {
        self.lot.waking();
        self.woken.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits (up to 5 s) until `count` has been woken `n` times.
async fn woken_times(count: &Count, n: usize) {
    let start = Instant::now();
    while count.get() < n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "woken {} times, not {n}",
            count.get()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn wakes_no_more_while_many_woken_wait_for_a_worker() {
    const SOCKETS: usize = MAX_WAKING + 44;
    let lot = Arc::new(Lot::start().unwrap());
    let woken = Arc::new(Count::default());
    let mut held = Vec::new();
    for _ in 0..SOCKETS {
        let (server, mut client) = pair();
        // Every socket is readable: each wakes as it enters.
        client.write_all(b"logout").unwrap();
        let waker = Waker::from(Arc::new(Spawns {
            lot: lot.clone(),
            woken: woken.clone(),
        }));
        lot.enter(server.as_raw_fd(), waker, far()).unwrap();
        held.push((server, client));
    }
    woken_times(&woken, MAX_WAKING).await;
    // None of them has taken its socket back: the rest wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(woken.get(), MAX_WAKING);

    // Half of them resume: the lot wakes the rest.
    for _ in 0..MAX_WAKING / 2 {
        lot.resumed();
    }
    woken_times(&woken, SOCKETS).await;
    // The wakers hold the lot: stop lets them go.
    lot.stop();
}
