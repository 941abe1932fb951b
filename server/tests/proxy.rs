//! The documented nginx configuration (`docs/nginx/tickertape.conf`), run by
//! Debian's nginx on loopback in front of a real server: the stream passes event
//! by event and resumes after a reconnect through it.

mod helpers;

use helpers::{PATIENCE, SseClient, TestApp, spawn_app};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

const TOKEN: &str = "publish-token-0123456789";

/// nginx running the documented site in front of `upstream`.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    fn start(upstream: SocketAddr) -> Self {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .expect("nginx is not installed: run `make setup-test` (Debian's nginx package)");
        let site = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/nginx/tickertape.conf"
        ))
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // The same file, pointed at this test's server and port.
        assert!(site.contains("server 127.0.0.1:3000;") && site.contains("listen 80;"));
        let site = site
            .replace("server 127.0.0.1:3000;", &format!("server {upstream};"))
            .replace("listen 80;", &format!("listen {addr};"));
        let dir =
            std::env::temp_dir().join(format!("tickertape-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log info;\nworker_processes 1;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let config = dir.join("nginx.conf");
        // Run as the current user; as root, nginx's workers would switch to nobody.
        let user = if running_as_root() {
            vec!["-g", "daemon off; user root;"]
        } else {
            vec!["-g", "daemon off;"]
        };
        let child = Command::new(nginx)
            .args([
                "-p",
                dir.to_str().unwrap(),
                "-c",
                config.to_str().unwrap(),
                "-e",
                &format!("{d}/error.log"),
            ])
            .args(user)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let nginx = Self { child, addr, dir };
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                nginx.error_log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        nginx
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this process runs as root.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

async fn publish(app: &TestApp, price: f64) {
    let response = app
        .post_prices(
            Some(TOKEN),
            format!(r#"{{"symbol":"ACME","price":{price}}}"#),
        )
        .await;
    assert_eq!(response.status(), 200);
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
        TOKEN,
        "--heartbeat-ms",
        "600000",
        "--trust-forwarded-for",
    ])
    .await;
    let nginx = Nginx::start(app.addr);
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
