//! Micro-benchmark of the fan-out: one message posted to a room of 1,000
//! and of 10,000 online members, as the server does it for a chat: the
//! next sequence number, one encode, a push of the same bytes (a reference
//! count, not a copy) to every member's bounded queue, and the idle
//! writers' wakers collected. Queues are emptied between iterations,
//! outside the timing. Sockets are not involved: this is the server's own
//! share of a broadcast, the part before the kernel.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sori_server::bench::Fanout;

/// 64 bytes, as in the load benchmarks.
const TEXT: &str = "sb0000000123456789000000000000002a..............................";

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    for members in [1_000_usize, 10_000] {
        let mut room = Fanout::new(members);
        group.throughput(Throughput::Elements(members as u64));
        group.bench_function(BenchmarkId::new("post", members), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let woken = room.post(black_box(TEXT));
                    timed += start.elapsed();
                    assert_eq!(woken, members, "every idle member's writer is woken");
                    room.drain();
                }
                timed
            });
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
