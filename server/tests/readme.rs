//! The README's commands, run as written against the real binary: the
//! server started as "Publishing prices" says, the `curl` examples (their
//! answers shaped as shown), and `tickertape publish` on a CSV file.
//!
//! Commands for other machines (`make`, `cargo`, a cluster's hosts) are not
//! run here; the Makefile and CI run those.

mod helpers;

use helpers::binary::Launch;
use serde_json::Value;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

/// The fenced code blocks of `text`: their language and lines.
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        if let Some(fence) = line.strip_prefix("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => open = Some((fence.trim().to_owned(), Vec::new())),
            }
        } else if let Some((_, lines)) = &mut open {
            lines.push(line.to_owned());
        }
    }
    blocks
}

/// The commands of a block, continuation lines joined; for `console` blocks
/// the `$ ` lines, each with the output shown after it.
fn commands(language: &str, lines: &[String]) -> Vec<(String, Vec<String>)> {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let mut continued = false;
    for line in lines {
        let trimmed = line.trim_end();
        if continued {
            let last = commands.last_mut().unwrap();
            last.0.push('\n');
            last.0.push_str(trimmed);
        } else if language == "console" || language == "text" {
            match trimmed.strip_prefix("$ ") {
                Some(command) => commands.push((command.to_owned(), Vec::new())),
                None => {
                    if let Some(last) = commands.last_mut() {
                        last.1.push(trimmed.to_owned());
                    }
                }
            }
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
            commands.push((trimmed.to_owned(), Vec::new()));
        }
        continued = trimmed.ends_with('\\') && !commands.is_empty();
    }
    commands
}

/// Runs `command` in bash in `dir`, with the binary for `target/release/tickertape`
/// and the server at `addr` for `127.0.0.1:3000`.
fn run(
    command: &str,
    dir: &Path,
    addr: SocketAddr,
    token: &str,
    timeout_secs: u32,
) -> (Option<i32>, String, String) {
    let binary = env!("CARGO_BIN_EXE_tickertape");
    let command = command
        .replace("target/release/tickertape", binary)
        .replace("127.0.0.1:3000", &addr.to_string());
    let output = Command::new("timeout")
        .arg(timeout_secs.to_string())
        .args(["bash", "-euo", "pipefail", "-c", &command])
        .current_dir(dir)
        .env("TICKERTAPE_PUBLISH_TOKEN", token)
        .env("TICKERTAPE_URL", format!("http://{addr}"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The keys of a JSON object, sorted.
fn keys(text: &str) -> Option<Vec<String>> {
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    let mut keys: Vec<String> = value.as_object()?.keys().cloned().collect();
    keys.sort();
    Some(keys)
}

#[test]
fn the_readmes_publishing_commands_run_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let blocks = blocks(&readme);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tickertape-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // "Start the server with a publish token": the token made by the README's
    // own line, the server started with the README's own flags.
    let (_, start) = blocks
        .iter()
        .find(|(_, lines)| {
            lines
                .iter()
                .any(|line| line.starts_with("export TICKERTAPE_PUBLISH_TOKEN="))
        })
        .expect("the README shows how to start a publishing server");
    let export = start
        .iter()
        .find(|line| line.starts_with("export "))
        .unwrap();
    let token = Command::new("bash")
        .args([
            "-c",
            &format!("{export}; printf %s \"$TICKERTAPE_PUBLISH_TOKEN\""),
        ])
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap();
    assert!(
        token.len() >= 16,
        "the README's token is too short: {token:?}"
    );
    let serve = start
        .iter()
        .find(|line| line.starts_with("target/release/tickertape"))
        .unwrap();
    let args: Vec<&str> = serve.split_whitespace().skip(1).collect();
    let server = Launch::new(&args)
        .env("TICKERTAPE_PUBLISH_TOKEN", &token)
        .start();
    let addr = server.addr;

    // A file for `tickertape publish`, its ts a second apart.
    std::fs::write(
        dir.join("day.csv"),
        "# a short day\nsymbol,price,ts\nACME,12.50,1000\nACME,12.55,2000\nBRK.B,441.20,3000\n",
    )
    .unwrap();

    let mut ran = 0;
    for (language, lines) in &blocks {
        for (command, shown) in commands(language, lines) {
            let local = (command.starts_with("curl") && command.contains("127.0.0.1:3000"))
                || (command.starts_with("target/release/tickertape publish")
                    && !command.contains("--url"));
            if !local {
                continue;
            }
            // A stream never ends by itself: read it for a second.
            let stream = command.contains("curl -N");
            let (status, stdout, stderr) =
                run(&command, &dir, addr, &token, if stream { 1 } else { 30 });
            if stream {
                assert_eq!(status, Some(124), "{command}: {stderr}");
                assert!(stdout.starts_with("retry: "), "{command}: {stdout}");
            } else {
                assert_eq!(status, Some(0), "{command} failed: {stdout}{stderr}");
            }
            if let Some(expected) = shown.iter().find_map(|line| keys(line)) {
                assert_eq!(keys(&stdout), Some(expected), "{command} answered {stdout}");
            }
            ran += 1;
        }
    }
    // The curl of /events, the curl that publishes, two publish lines.
    assert!(ran >= 4, "only {ran} commands ran");
    let _ = std::fs::remove_dir_all(dir);
}
