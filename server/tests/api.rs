//! `GET /api/snapshot` and the server-rendered dashboard against a real server.

mod helpers;

use helpers::spawn_app;

const SYMBOLS: &str = "AAPL,BRK.B,ZZZZ";

#[tokio::test]
async fn the_snapshot_has_every_symbol_in_order_and_the_last_id() {
    let app = spawn_app(&["--symbols", SYMBOLS, "--rate", "200"]).await;
    let mut stream = app.open_stream().await;
    let seen = stream.next_update().await.unwrap();

    let response = app
        .client
        .get(app.url("/api/snapshot"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let snapshot: serde_json::Value = response.json().await.unwrap();
    let symbols: Vec<&str> = snapshot["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols.join(","), SYMBOLS);
    assert!(snapshot["lastEventId"].as_u64().unwrap() >= seen.id);
    for quote in snapshot["quotes"].as_array().unwrap() {
        assert!(quote["price"].as_f64().unwrap() > 0.0);
        assert!(quote["changePct"].is_number() && quote["ts"].is_u64());
    }
}

#[tokio::test]
async fn the_dashboard_html_already_holds_the_current_prices() {
    let app = spawn_app(&["--symbols", SYMBOLS, "--rate", "0.001"]).await;
    let snapshot: app::model::Snapshot = app
        .client
        .get(app.url("/api/snapshot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<tbody>"), "no explicit tbody");
    for quote in &snapshot.quotes {
        let row = format!("data-symbol=\"{}\"", quote.symbol);
        let at = html
            .find(&row)
            .unwrap_or_else(|| panic!("no row for {}", quote.symbol));
        let price = app::format::price(quote.price.get());
        assert!(
            html[at..].contains(&price),
            "{} is not shown at {price}",
            quote.symbol
        );
    }
}
