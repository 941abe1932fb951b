//! The documented nginx configuration (`docs/nginx/tickertape.conf`), run by
//! Debian's nginx on loopback in front of a real server: the stream passes event
//! by event and resumes after a reconnect through it.

mod helpers;

use helpers::{
    Nginx, PUBLISH_TOKEN, SseClient, TestApp, certificate, events_of, free_addr, h2_connect,
    h2_next_data, h2_open, spawn_app,
};
use rustls_pki_types::CertificateDer;
use std::net::SocketAddr;

/// nginx running the documented site (both its plain and its HTTPS + HTTP/2
/// server) in front of `upstream`; the HTTPS address and its certificate.
fn documented_site(upstream: SocketAddr) -> (Nginx, SocketAddr, CertificateDer<'static>) {
    let site = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/nginx/tickertape.conf"
    ))
    .unwrap();
    // The same file, pointed at this test's server, port and certificate.
    for line in [
        "server 127.0.0.1:3000;",
        "listen 80;",
        "listen 443 ssl http2;",
        "ssl_certificate     /etc/ssl/certs/tickertape.pem;",
        "ssl_certificate_key /etc/ssl/private/tickertape.key;",
    ] {
        assert!(site.contains(line), "{line} is not in tickertape.conf");
    }
    let (cert, key, der) = certificate();
    let https = free_addr();
    let site = site
        .replace("server 127.0.0.1:3000;", &format!("server {upstream};"))
        .replace(
            "listen 443 ssl http2;",
            &format!("listen {https} ssl http2;"),
        )
        .replace(
            "ssl_certificate     /etc/ssl/certs/tickertape.pem;",
            &format!("ssl_certificate {};", cert.display()),
        )
        .replace(
            "ssl_certificate_key /etc/ssl/private/tickertape.key;",
            &format!("ssl_certificate_key {};", key.display()),
        );
    (Nginx::start(&site, "listen 80;"), https, der)
}

async fn publish(app: &TestApp, price: f64) {
    app.publish(&[("ACME", price)]).await;
}

async fn open(client: &reqwest::Client, nginx: &Nginx, last_event_id: Option<&str>) -> SseClient {
    let mut request = client.get(nginx.url("/events"));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", nginx.error_log());
    SseClient::new(response)
}

#[tokio::test]
async fn the_stream_passes_nginx_event_by_event_and_resumes_through_it() {
    // A long heartbeat: nothing but the published prices moves the stream.
    let app = spawn_app(&[
        "--no-simulator",
        "--publish-token",
        PUBLISH_TOKEN,
        "--heartbeat-ms",
        "600000",
        "--trust-forwarded-for",
    ])
    .await;
    let (nginx, _, _) = documented_site(app.addr);
    let client = reqwest::Client::new();

    let mut stream = open(&client, &nginx, None).await;
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    stream
        .next_of("heartbeat")
        .await
        .expect("the catch-up heartbeat");
    // Each price must arrive before the next is published: a buffering proxy
    // would hold these small frames back and the read would time out.
    let mut last = None;
    for i in 0..5 {
        publish(&app, 10.0 + f64::from(i)).await;
        let update = stream.next_update().await.expect("the stream ended");
        assert_eq!(update.price(), 10.0 + f64::from(i));
        if let Some(previous) = last {
            update.assert_follows(previous);
        }
        last = Some(update.id);
    }
    let last = last.unwrap();

    // Drop the connection, miss three prices, come back with Last-Event-ID.
    drop(stream);
    app.wait_for_subscribers(0).await;
    for i in 0..3 {
        publish(&app, 20.0 + f64::from(i)).await;
    }
    let mut resumed = open(&client, &nginx, Some(&last.to_string())).await;
    let replayed = resumed.updates(3).await;
    let prices: Vec<f64> = replayed.iter().map(helpers::Update::price).collect();
    assert_eq!(prices, [20.0, 21.0, 22.0]);
    replayed[0].assert_follows(last);
    assert_eq!(app.stats().await["resumed"], 1);
    // And live again after the replay.
    publish(&app, 30.0).await;
    assert_eq!(resumed.next_update().await.unwrap().price(), 30.0);

    // The other documented rules hold through the proxy too.
    let metrics = client.get(nginx.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let page = client.get(nginx.url("/")).send().await.unwrap();
    assert!(page.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn over_https_nginx_speaks_http2_and_passes_each_event_as_it_comes() {
    let app = spawn_app(&["--no-simulator", "--publish-token", PUBLISH_TOKEN]).await;
    let (_nginx, https, cert) = documented_site(app.addr);
    // h2_connect checks that ALPN chose HTTP/2.
    let mut send = h2_connect(https, cert).await;
    let mut stream = h2_open(&mut send, "/events").await;
    let mut seen = String::new();
    while !seen.contains("event: heartbeat") {
        seen.push_str(&h2_next_data(&mut stream).await);
    }
    // Each price comes through on its own, as it is published.
    for price in [1.0, 2.0, 3.0] {
        publish(&app, price).await;
        let mut text = String::new();
        let update = loop {
            text.push_str(&h2_next_data(&mut stream).await);
            if let Some(update) = events_of(&text)
                .into_iter()
                .find(|frame| frame.kind() == "priceUpdate")
            {
                break update;
            }
        };
        assert_eq!(update.json()["price"], price);
    }
}
