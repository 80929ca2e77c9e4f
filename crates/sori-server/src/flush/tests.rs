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

#[tokio::test(start_paused = true)]
async fn writers_are_woken_once_at_the_end_of_the_window() {
    let coalescer = Arc::new(Coalescer::new(Duration::from_millis(2)));
    let stop = CancellationToken::new();
    let flusher = tokio::spawn({
        let (coalescer, stop) = (coalescer.clone(), stop.clone());
        async move { coalescer.run(stop).await }
    });
    let (first, waker) = counting();
    let (second, other) = counting();
    coalescer.defer(waker);
    tokio::time::sleep(Duration::from_millis(1)).await;
    coalescer.defer(other);
    assert_eq!(
        first.0.load(Ordering::SeqCst),
        0,
        "not before the window ends"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(first.0.load(Ordering::SeqCst), 1);
    assert_eq!(second.0.load(Ordering::SeqCst), 1, "one window covers both");
    stop.cancel();
    flusher.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_a_window_writers_are_woken_at_once() {
    let coalescer = Coalescer::new(Duration::ZERO);
    let (counter, waker) = counting();
    coalescer.defer(waker);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn stopping_wakes_whatever_is_left() {
    let coalescer = Arc::new(Coalescer::new(Duration::from_secs(3600)));
    let stop = CancellationToken::new();
    let (counter, waker) = counting();
    coalescer.defer(waker);
    stop.cancel();
    coalescer.run(stop).await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}
