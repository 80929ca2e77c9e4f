use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use super::*;

/// A waker that counts its wakes.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

/// `n` counting writers, each deferred to `coalescer`.
fn deferred(coalescer: &Coalescer, n: usize) -> Vec<Arc<Counter>> {
    (0..n)
        .map(|_| {
            let (counter, waker) = counting();
            coalescer.defer(waker);
            counter
        })
        .collect()
}

fn pacing(max_delay_ms: u64, wakes_per_sec: f64) -> Pacing {
    Pacing {
        max_delay: Duration::from_millis(max_delay_ms),
        wakes_per_sec,
    }
}

fn start(
    pacing: Pacing,
) -> (
    Arc<Coalescer>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let coalescer = Arc::new(Coalescer::new(pacing));
    let stop = CancellationToken::new();
    let flusher = tokio::spawn({
        let (coalescer, stop) = (coalescer.clone(), stop.clone());
        async move { coalescer.run(stop, || {}).await }
    });
    (coalescer, stop, flusher)
}

fn wakes(counters: &[Arc<Counter>]) -> usize {
    counters.iter().map(|c| c.0.load(Ordering::SeqCst)).sum()
}

/// Lets the flusher run what is ready now, without moving the clock.
async fn one_pass() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn within_the_budget_writers_are_woken_in_the_next_pass() {
    let (coalescer, stop, flusher) = start(pacing(5, 1_000.0));
    let (first, waker) = counting();
    let (second, other) = counting();
    coalescer.defer(waker);
    coalescer.defer(other);
    let before = tokio::time::Instant::now();
    one_pass().await;
    assert_eq!(before.elapsed(), Duration::ZERO, "no time passed");
    assert_eq!(wakes(&[first, second]), 2, "both woken with no window");
    stop.cancel();
    flusher.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn past_the_budget_writers_wait_and_gather_but_never_past_the_delay() {
    // A budget of 1,000 wake-ups a second saves up 500: a batch of 530 is
    // 30 over, which the budget earns back in 30 ms, past the 5 ms bound.
    let (coalescer, stop, flusher) = start(pacing(5, 1_000.0));
    let counters = deferred(&coalescer, 530);
    one_pass().await;
    assert_eq!(wakes(&counters), 0, "over the budget: not at once");
    tokio::time::sleep(Duration::from_millis(4)).await;
    assert_eq!(wakes(&counters), 0, "not before the delay");
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(wakes(&counters), 530, "all woken at the bound");
    // The budget is spent (1 ms later it holds one wake-up): three more
    // writers wait the 2 ms it takes to earn the other two.
    let late = deferred(&coalescer, 3);
    one_pass().await;
    assert_eq!(wakes(&late), 0, "the budget is spent");
    tokio::time::sleep(Duration::from_millis(3)).await;
    assert_eq!(wakes(&late), 3);
    stop.cancel();
    flusher.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_a_delay_writers_are_woken_at_once() {
    let coalescer = Coalescer::new(pacing(0, 1.0));
    let (counter, waker) = counting();
    coalescer.defer(waker);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn stopping_wakes_whatever_is_left() {
    let coalescer = Arc::new(Coalescer::new(Pacing {
        max_delay: Duration::from_secs(3600),
        wakes_per_sec: 1.0,
    }));
    let stop = CancellationToken::new();
    let (counter, waker) = counting();
    coalescer.defer(waker);
    stop.cancel();
    coalescer.run(stop, || {}).await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}
