//! The proxy against a real TCP echo server on loopback.

use super::*;

/// An echo server on a free loopback port: each connection gets back what it sends, until it
/// closes its side.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

fn proxy() -> NetProxy {
    NetProxy::start(echo_server()).unwrap()
}

fn connect(p: &NetProxy) -> TcpStream {
    let s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Sends `bytes` and reads as many back; how long that took.
fn round_trip(s: &mut TcpStream, bytes: &[u8]) -> Duration {
    let t0 = Instant::now();
    let mut w = s.try_clone().unwrap();
    let out = bytes.to_vec();
    let writer = thread::spawn(move || w.write_all(&out).unwrap());
    let mut back = vec![0u8; bytes.len()];
    s.read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back, bytes, "the bytes come back as they went");
    t0.elapsed()
}

#[test]
fn bytes_pass_both_ways_unchanged_and_an_end_of_stream_passes_too() {
    let p = proxy();
    let mut s = connect(&p);
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    round_trip(&mut s, &bytes);
    round_trip(&mut s, b"x");
    // Half-close: the echo server sees the end of our stream, ends its own, and we see that.
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(p.counts().connections, 1);
}

#[test]
fn a_delay_holds_each_direction_for_its_time_and_ends_when_cleared() {
    let p = proxy();
    let mut s = connect(&p);
    round_trip(&mut s, b"warm");
    p.set(Toxics {
        delay: Duration::from_millis(300),
        ..Toxics::default()
    });
    // There and back: delayed twice.
    let took = round_trip(&mut s, b"ping");
    assert!(took >= Duration::from_millis(600), "{took:?}");
    // Many chunks sent together are delayed once each, not once per chunk before them.
    let t0 = Instant::now();
    for _ in 0..5 {
        s.write_all(&[1u8; 100]).unwrap();
    }
    let mut back = [0u8; 500];
    s.read_exact(&mut back).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(600), "{:?}", t0.elapsed());
    p.clear();
    assert_eq!(p.toxics(), Toxics::default());
    round_trip(&mut s, b"pong");
}

#[test]
fn a_rate_limits_each_direction() {
    let p = proxy();
    let mut s = connect(&p);
    p.set(Toxics {
        rate: Some(100_000),
        ..Toxics::default()
    });
    // 100 kB at 100 kB/s: a second each way, the two overlapping (the echo sends back what it
    // got so far), less the first piece's tenth of a second, which may go at once.
    let took = round_trip(&mut s, &[7u8; 100_000]);
    assert!(took >= Duration::from_millis(900), "{took:?}");
    p.clear();
    round_trip(&mut s, &[7u8; 50_000]);
}

#[test]
fn a_blackhole_holds_the_bytes_and_the_connection_and_lets_them_through_after() {
    let p = proxy();
    let mut s = connect(&p);
    round_trip(&mut s, b"before");
    p.set(Toxics {
        blackhole: true,
        ..Toxics::default()
    });
    s.write_all(b"held").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut back = [0u8; 4];
    let e = s.read(&mut back).unwrap_err();
    assert!(
        matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
        "nothing comes back while the blackhole lasts: {e}"
    );
    assert_eq!(p.open_connections(), 1, "the connection stays open");
    p.clear();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"held", "held, not dropped");
}

#[test]
fn a_reset_resets_every_open_connection_at_once_and_new_ones_pass() {
    let p = proxy();
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(&p)).collect();
    for s in &mut conns {
        round_trip(s, b"hello");
    }
    assert_eq!(p.reset_all(), 3);
    for s in &mut conns {
        let mut buf = [0u8; 8];
        let e = s
            .read(&mut buf)
            .expect_err("a reset connection reads an error, not an end of stream");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    }
    assert_eq!(p.counts().reset, 3);
    let mut s = connect(&p);
    round_trip(&mut s, b"again");
}

#[test]
fn a_partition_refuses_new_connections_and_holds_the_open_ones() {
    let p = proxy();
    let mut open = connect(&p);
    round_trip(&mut open, b"before");
    p.set(Toxics {
        blackhole: true,
        refuse: true,
        ..Toxics::default()
    });
    let mut new = connect(&p);
    let mut buf = [0u8; 4];
    // The reset reaches whichever call comes after it: the write, when it arrived first (a busy
    // machine), and then the read sees the end; or the read. Never an echo.
    match (new.write_all(b"late"), new.read(&mut buf)) {
        (Err(e), read) => {
            assert!(
                matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe),
                "{e}"
            );
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        }
        (Ok(()), Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        (Ok(()), Ok(n)) => panic!("a new connection got {n} bytes through a partition"),
    }
    open.write_all(b"held").unwrap();
    p.clear();
    open.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"held");
    assert_eq!(p.counts().refused, 1);
}

#[test]
fn an_upstream_that_is_gone_resets_the_client() {
    let gone = {
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap()
    };
    let p = NetProxy::start(gone).unwrap();
    let mut s = connect(&p);
    let mut buf = [0u8; 1];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        Ok(n) => panic!("{n} bytes from nowhere"),
    }
    assert_eq!(p.counts().upstream_failed, 1);
}

#[test]
fn each_network_fault_sets_its_toxics_while_it_holds_and_clears_them_after() {
    use crate::fault::{FaultArg, FaultKind, PlannedFault};
    let p = Arc::new(proxy());
    let mut s = connect(&p);
    round_trip(&mut s, b"open");
    let cases = [
        (
            PlannedFault {
                arg: Some(FaultArg::Ms(250)),
                ..PlannedFault::new(FaultKind::NetDelay, Some(0))
            },
            Toxics {
                delay: Duration::from_millis(250),
                ..Toxics::default()
            },
        ),
        (
            PlannedFault {
                arg: Some(FaultArg::BytesPerS(64_000)),
                ..PlannedFault::new(FaultKind::NetBandwidth, Some(0))
            },
            Toxics {
                rate: Some(64_000),
                ..Toxics::default()
            },
        ),
        (
            PlannedFault::new(FaultKind::NetDrop, Some(0)),
            Toxics {
                blackhole: true,
                ..Toxics::default()
            },
        ),
        (
            PlannedFault::new(FaultKind::NetPartition, Some(0)),
            Toxics {
                blackhole: true,
                refuse: true,
                ..Toxics::default()
            },
        ),
    ];
    for (fault, want) in cases {
        // A long hold, ended by the run's stop: what it set is seen while it holds.
        let fault = fault.held(600_000);
        let stop = Arc::new(AtomicBool::new(false));
        let injector = {
            let (p, stop) = (Arc::clone(&p), Arc::clone(&stop));
            thread::spawn(move || p.inject(&fault, &|| stop.load(Ordering::SeqCst)))
        };
        while p.toxics() == Toxics::default() {
            thread::yield_now();
        }
        assert_eq!(p.toxics(), want, "{}", fault.label());
        stop.store(true, Ordering::SeqCst);
        let injected = injector.join().unwrap().unwrap();
        assert_eq!(p.toxics(), Toxics::default(), "{}: cleared", fault.label());
        assert!(injected.target.starts_with("network 127.0.0.1:"), "{injected:?}");
        assert!(injected.recovery.is_some(), "the upstream takes connections again");
        assert!(
            injected.check.as_deref().unwrap().contains("1 open connections"),
            "{injected:?}"
        );
    }
    // The held bytes of the drop and the partition were held, not lost.
    round_trip(&mut s, b"still open");
    let reset = p
        .inject(&PlannedFault::new(FaultKind::NetReset, Some(0)), &|| false)
        .unwrap();
    assert_eq!(reset.check.as_deref(), Some("reset 1 open connections"));
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    let other = p
        .inject(&PlannedFault::new(FaultKind::Kill, Some(0)), &|| false)
        .unwrap_err();
    assert!(other.to_string().contains("cannot inject `kill`"), "{other}");
}
