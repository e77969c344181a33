//! The listener's own defences (issue 10, item 6), for a server facing the
//! internet without a proxy: a client that trickles its headers is cut off,
//! and one address cannot hold more than its share of connections. These are
//! about sockets and real time, so they use raw TCP and generous deadlines.

mod support;

use std::time::Duration;

use support::app::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes); what it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

async fn request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(stream, Duration::from_secs(10))
        .await
        .expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off() {
    let app = TestApp::spawn_with(|c| c.http.header_read_timeout_ms = 300).await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: herald\r\nX-Slow: ")
        .await
        .unwrap();
    let sent = until_closed(&mut slow, Duration::from_secs(10)).await;
    let sent = sent.expect("the server closed the connection");
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "no page for a request that never finished: {sent}"
    );
    // A client that sends its request in time is served.
    let mut quick = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(request(&mut quick).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_share_of_connections() {
    let app = TestApp::spawn_with(|c| c.http.max_connections_per_client = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    // The fourth is closed before anything is read from it.
    let mut extra = TcpStream::connect(addr(&app)).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n")
        .await;
    let sent = until_closed(&mut extra, Duration::from_secs(10)).await;
    assert_eq!(sent.as_deref(), Some(""), "closed without an answer");
    // The held ones still work; once one closes, a new one is accepted.
    assert!(request(&mut held[0]).await.starts_with("HTTP/1.1 200"));
    drop(held.remove(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(addr(&app)).await.unwrap();
        let _ = again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
            .await;
        let sent = until_closed(&mut again, Duration::from_secs(10))
            .await
            .unwrap();
        if sent.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed slot was never reused"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_may_carry_many_connections() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_connections_per_client = 2;
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    for stream in &mut held {
        assert!(request(stream).await.starts_with("HTTP/1.1 200"));
    }
}
