use std::future::poll_fn;

use super::*;

fn frame(n: usize) -> Bytes {
    Bytes::from(vec![0u8; n])
}

async fn take(outbox: &Outbox) -> (Mode, VecDeque<Bytes>) {
    let mut batch = VecDeque::new();
    let mode = poll_fn(|cx| outbox.poll_take(cx, &mut batch)).await;
    (mode, batch)
}

#[tokio::test]
async fn frames_come_out_in_push_order_in_one_batch() {
    let outbox = Outbox::new(1024);
    for n in 1..=3 {
        assert_eq!(outbox.push(frame(n), None), Push::Queued);
    }
    let (mode, batch) = take(&outbox).await;
    assert_eq!(mode, Mode::Open);
    assert_eq!(batch.iter().map(Bytes::len).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn passing_the_byte_bound_overflows_and_drops_the_queue() {
    let outbox = Outbox::new(100);
    assert_eq!(outbox.push(frame(60), None), Push::Queued);
    assert_eq!(
        outbox.push(frame(40), None),
        Push::Queued,
        "exactly at the bound is fine"
    );
    assert_eq!(outbox.push(frame(1), None), Push::Overflowed);
    assert_eq!(outbox.mode(), Mode::Overflowed);
    assert_eq!(outbox.push(frame(1), None), Push::Dropped);
}

#[tokio::test]
async fn bytes_taken_but_unwritten_still_count_against_the_bound() {
    let outbox = Outbox::new(100);
    outbox.push(frame(80), None);
    let _in_flight = take(&outbox).await;
    assert_eq!(outbox.push(frame(30), None), Push::Overflowed);
    let outbox = Outbox::new(100);
    outbox.push(frame(80), None);
    let _written = take(&outbox).await;
    outbox.release(80, 1);
    assert_eq!(outbox.push(frame(30), None), Push::Queued);
}

#[tokio::test]
async fn finish_queues_the_last_frame_past_the_bound_and_refuses_more() {
    let outbox = Outbox::new(10);
    outbox.push(frame(10), None);
    assert!(outbox.finish(Some(frame(5))));
    assert_eq!(outbox.push(frame(1), None), Push::Dropped);
    let (mode, batch) = take(&outbox).await;
    assert_eq!(mode, Mode::Finishing);
    assert_eq!(batch.len(), 2);
    assert!(!outbox.finish(None), "finishing twice is a no-op");
}

#[tokio::test]
async fn a_waiting_writer_is_woken_by_a_push() {
    let outbox = std::sync::Arc::new(Outbox::new(1024));
    let writer = tokio::spawn({
        let outbox = outbox.clone();
        async move { take(&outbox).await.1.len() }
    });
    tokio::task::yield_now().await;
    outbox.push(frame(3), None);
    assert_eq!(writer.await.unwrap(), 1);
}

#[tokio::test]
async fn an_idle_queue_holds_no_memory_and_a_batch_is_reserved_at_once() {
    let outbox = Outbox::new(1 << 20);
    for _ in 0..40 {
        outbox.push(frame(1), None);
    }
    let (_, batch) = take(&outbox).await;
    assert_eq!(batch.len(), 40);
    assert_eq!(outbox.lock().frames.capacity(), 0, "idle: nothing kept");
    // The next batch's first frame reserves room for as many as the last.
    outbox.push(frame(1), None);
    assert!(outbox.lock().frames.capacity() >= 40);
    let (_, batch) = take(&outbox).await;
    assert_eq!(batch.len(), 1);
    // A quiet spell shrinks the reservation again.
    outbox.push(frame(1), None);
    assert!(outbox.lock().frames.capacity() < 40);
}

#[test]
fn an_outbox_is_small() {
    // Every session has one, idle or not: with its link and peer it must
    // stay within one 160-byte allocation (see handler/tests.rs).
    assert!(size_of::<Outbox>() <= 88, "{}", size_of::<Outbox>());
}

#[tokio::test]
async fn probes_are_told_when_their_frame_is_written() {
    let metrics = Arc::new(sori_core::metrics::Metrics::default());
    let probe = || {
        let start = tokio::time::Instant::now();
        Arc::new(Probe::new(start, 1, metrics.clone()))
    };
    let outbox = Outbox::new(1024);
    outbox.push(frame(1), None);
    outbox.push(frame(2), Some(&probe()));
    outbox.push(frame(3), None);
    let (_, batch) = take(&outbox).await;
    assert_eq!(batch.len(), 3);
    // Only the frame before the probe's is written: not yet.
    outbox.release(1, 1);
    assert_eq!(metrics.fanouts.get(), 0);
    outbox.release(2, 1);
    assert_eq!(metrics.fanouts.get(), 1);
    // A probe pushed after the others were told counts anew, behind the
    // frame still unwritten.
    outbox.push(frame(4), Some(&probe()));
    outbox.release(3, 1);
    assert_eq!(metrics.fanouts.get(), 1);
    let (_, batch) = take(&outbox).await;
    assert_eq!(batch.len(), 1);
    outbox.release(4, 1);
    assert_eq!(metrics.fanouts.get(), 2);
}
