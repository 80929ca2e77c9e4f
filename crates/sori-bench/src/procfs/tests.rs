use std::net::TcpListener;

use super::*;

#[test]
fn stat_fields_count_from_the_command_name() {
    let stat = "1234 (tokio (w) 1) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 1 1";
    assert_eq!(parse_stat_ticks(stat), Some(325));
}

#[test]
fn own_cpu_time_and_rss_are_readable() {
    let pid = std::process::id();
    let before = cpu_seconds(pid).expect("own stat");
    // Burn a little CPU so the counter moves past a tick (10 ms).
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(60);
    let mut spin = 0u64;
    while std::time::Instant::now() < deadline {
        spin = std::hint::black_box(spin.wrapping_add(1));
    }
    let after = cpu_seconds(pid).expect("own stat");
    assert!(after > before, "cpu time {before} -> {after}");
    let rss = rss_bytes(pid).expect("own status");
    assert!(rss > 1024 * 1024, "rss {rss}");
}

#[test]
fn status_rss_line() {
    let status = "Name:\tsori-server\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
    assert_eq!(parse_status_rss_kib(status), Some(12345));
}

#[test]
fn listen_table_rows() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1\n";
    assert_eq!(listen_inodes(table, 8080), vec![4242]);
    assert_eq!(listen_inodes(table, 8081), Vec::<u64>::new());
}

#[test]
fn finds_this_process_by_its_listening_port() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert_eq!(pid_listening_on(port), Some(std::process::id()));
}
