//! Debian's `redis-server` and `redis-cli`, for the tests of a cluster.

use std::{path::Path, process::Command};

/// The `redis-server` binary (it runs Sentinels too, with `--sentinel`).
pub fn server_binary() -> &'static str {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("redis-server is not installed: run `make setup-test` (Debian's redis-server)")
}

/// Runs `redis-cli` with `args` against the server on `port`; its output, trimmed.
pub fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
