//! The real `tickertape` binary, started as a child of the test on a port it
//! binds itself, its whole log kept, and how it ended checked.
//!
//! A server that exits by itself, exits non-zero after SIGTERM or panics at any
//! time fails the test that started it: `stop()` says so, and so does dropping a
//! server that is still running or died on its own (unless the test is already
//! failing).

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How long a server may take to say it listens.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Every line a server printed (stdout and stderr), and a signal for waiters.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.grew.notify_all();
    }

    /// Copies the log out of `reader`, a line at a time, until it closes.
    fn follow(self: &Arc<Self>, reader: impl Read + Send + 'static) -> JoinHandle<()> {
        let log = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                log.push(line);
            }
        })
    }
}

/// How to start the binary: its arguments, environment and limits.
pub struct Launch {
    args: Vec<String>,
    vars: Vec<(String, String)>,
    open_files: Option<u32>,
}

impl Launch {
    /// `tickertape` with `args`, on `127.0.0.1:0` unless the arguments or the
    /// environment name an address, logging at `warn` except for the start-up
    /// lines (where it says what it listens on).
    pub fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            vars: vec![
                ("NO_COLOR".to_owned(), "1".to_owned()),
                (
                    "RUST_LOG".to_owned(),
                    "warn,server::http::startup=info".to_owned(),
                ),
            ],
            open_files: None,
        }
    }

    /// At most `open_files` file descriptors (prlimit execs the server, so the
    /// child is the server itself).
    pub fn open_files(mut self, limit: u32) -> Self {
        self.open_files = Some(limit);
        self
    }

    /// Sets the server's environment variable `name`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.vars.retain(|(set, _)| set != name);
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let binary = env!("CARGO_BIN_EXE_tickertape");
        let mut command = match self.open_files {
            Some(limit) => {
                let mut command = Command::new("prlimit");
                command.arg(format!("--nofile={limit}:{limit}")).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let addressed = self.args.iter().any(|arg| arg == "--addr")
            || self.vars.iter().any(|(name, _)| name == "LEPTOS_SITE_ADDR");
        if !addressed {
            command.args(["--addr", "127.0.0.1:0"]);
        }
        command.args(&self.args).envs(self.vars.iter().cloned());
        command
    }

    /// Starts it and waits until it says where it listens.
    pub fn start(self) -> Server {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tickertape binary did not start");
        let log = Arc::new(Log::default());
        let readers = vec![
            log.follow(child.stdout.take().unwrap()),
            log.follow(child.stderr.take().unwrap()),
        ];
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            https: false,
            log,
            readers,
            ended: None,
        };
        let line = server.wait_for_line(START_PATIENCE, |line| line.contains("listening on http"));
        let Some(line) = line else {
            let status = server.child.try_wait().ok().flatten();
            server.ended = Some(status.unwrap_or_else(|| {
                let _ = server.child.kill();
                server.child.wait().unwrap()
            }));
            panic!(
                "the server did not start ({status:?}):\n{}",
                server.log_text()
            );
        };
        let at = line.find("listening on http").unwrap() + "listening on http".len();
        let rest = &line[at..];
        server.https = rest.starts_with('s');
        let rest = rest.trim_start_matches('s').trim_start_matches("://");
        let end = rest
            .find(|c: char| c == '"' || c.is_whitespace())
            .unwrap_or(rest.len());
        server.addr = rest[..end]
            .parse()
            .expect("an address after 'listening on'");
        server
    }
}

/// A running `tickertape`.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub https: bool,
    log: Arc<Log>,
    readers: Vec<JoinHandle<()>>,
    /// How it ended, once the test saw it end.
    ended: Option<ExitStatus>,
}

/// How a stopped server ended.
pub struct Stopped {
    /// Its exit status.
    pub status: ExitStatus,
    /// Every line it printed, to the end.
    pub log: Vec<String>,
    /// How long it took to exit after the signal.
    pub took: Duration,
}

impl Server {
    /// `tickertape` with `args` (see [`Launch::new`]).
    pub fn start(args: &[&str]) -> Self {
        Launch::new(args).start()
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines it printed so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lines.lock().unwrap().clone()
    }

    fn log_text(&self) -> String {
        self.log().join("\n")
    }

    /// Waits up to `patience` for a line that `wanted`, among those printed so
    /// far and those to come.
    pub fn wait_for_line(
        &self,
        patience: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + patience;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|line| wanted(line)) {
                return Some(line.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = self.log.grew.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`, `STOP`, `CONT`…) to it.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Sends `signal`, waits for the exit and for the whole log.
    fn end(mut self, signal: &str) -> Stopped {
        let sent = Instant::now();
        self.signal(signal);
        let status = self.child.wait().unwrap();
        let took = sent.elapsed();
        self.ended = Some(status);
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        Stopped {
            status,
            log: self.log(),
            took,
        }
    }

    /// Stops it with SIGTERM and returns how it ended; fails the test unless it
    /// exited with status 0 and never panicked.
    pub fn stop(self) -> Stopped {
        self.stop_with("TERM")
    }

    /// Stops it with `signal` (`TERM` or `INT`), checked as [`Server::stop`] is.
    pub fn stop_with(self, signal: &str) -> Stopped {
        let stopped = self.end(signal);
        let log = stopped.log.join("\n");
        assert!(
            stopped.status.success(),
            "the server exited with {} after SIG{signal}:\n{log}",
            stopped.status
        );
        assert!(!log.contains("panicked at"), "the server panicked:\n{log}");
        stopped
    }

    /// Kills it (SIGKILL: no notice, no goodbye), on purpose.
    pub fn kill(self) -> Stopped {
        self.end("KILL")
    }
}

impl Drop for Server {
    /// A server still running at the end of a test is killed. If it had died by
    /// itself or panicked, the test that started it fails (unless it is failing
    /// already).
    fn drop(&mut self) {
        if self.ended.is_some() {
            return;
        }
        let died = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let log = self.log_text();
        if let Some(status) = died {
            panic!("the server exited by itself with {status}:\n{log}");
        }
        assert!(!log.contains("panicked at"), "the server panicked:\n{log}");
    }
}
