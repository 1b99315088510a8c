//! The two child processes a browser test owns: the real `pingan demo` server and headless
//! Chromium. Each guard kills its process on drop, so a failed assertion never leaves either
//! running, and keeps the last lines of its output to explain a failure.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Strong enough for the server's password policy (it refuses to start otherwise).
pub const PASSWORD: &str = "Browser-Test-Pass-2026";

type Tail = Arc<Mutex<VecDeque<String>>>;

fn tail_text(tail: &Tail) -> String {
    tail.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n")
}

/// Forwards each line of a child's pipe to a channel, keeping the last 40 for failure messages.
/// The thread reads to the end so the child never blocks on a full pipe.
fn read_lines(pipe: impl Read + Send + 'static) -> (UnboundedReceiver<String>, Tail) {
    let (tx, rx) = unbounded_channel();
    let tail: Tail = Arc::default();
    let keep = tail.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut t = keep.lock().unwrap();
            if t.len() == 40 {
                t.pop_front();
            }
            t.push_back(line.clone());
            drop(t);
            let _ = tx.send(line);
        }
    });
    (rx, tail)
}

/// Waits (bounded) for the first line that `pick` accepts; `Err` says why none came.
async fn wait_line(
    rx: &mut UnboundedReceiver<String>,
    limit: Duration,
    pick: impl Fn(&str) -> Option<String>,
) -> Result<String, &'static str> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(line)) => {
                if let Some(v) = pick(&line) {
                    return Ok(v);
                }
            }
            Ok(None) => return Err("the process closed its output (did it exit?)"),
            Err(_) => return Err("timed out"),
        }
    }
}

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    _data: tempfile::TempDir,
}

impl Server {
    /// `pingan demo` on a fresh data directory, with extra arguments such as
    /// `["--scale", "city", "--grids-only"]` (none: the district demo most tests want) and extra
    /// environment variables (e.g. `PINGAN_MAP__TILE_URL`).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().expect("temp dir for demo data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_pingan"))
            .envs(env.iter().copied())
            .arg("demo")
            .arg("--data")
            .arg(data.path())
            .args(["--listen", "127.0.0.1:0", "--password", PASSWORD])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pingan demo");
        let (mut out, out_tail) = read_lines(child.stdout.take().unwrap());
        let (_err, err_tail) = read_lines(child.stderr.take().unwrap());
        // Guard first: if the wait below panics, dropping it still kills the server.
        let mut server = Server { child, base: String::new(), _data: data };
        // Seeding takes a few seconds; the line is printed only once the port is bound.
        let url = wait_line(&mut out, Duration::from_secs(60), |l| {
            l.strip_prefix("pingan demo: ").and_then(|r| r.split_whitespace().next()).map(str::to_string)
        })
        .await;
        match url {
            Ok(url) => server.base = url.trim_end_matches('/').to_string(),
            Err(why) => panic!(
                "pingan demo never printed its address ({why}); exit status {:?}\nstdout:\n{}\nstderr:\n{}",
                server.child.try_wait(),
                tail_text(&out_tail),
                tail_text(&err_tail)
            ),
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chromium binary to drive; a missing one fails loudly so CI cannot pass without testing.
pub fn chromium_path() -> String {
    match std::env::var("PINGAN_TEST_CHROMIUM") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => panic!(
            "PINGAN_TEST_CHROMIUM is not set: install Debian's chromium (`apt-get install chromium`) and run \
             with PINGAN_TEST_CHROMIUM=/usr/bin/chromium cargo test --test browser"
        ),
    }
}

pub struct Chromium {
    child: Child,
    /// The browser-level DevTools websocket.
    pub ws_url: String,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start() -> Chromium {
        let path = chromium_path();
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let mut child = Command::new(&path)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            .args(["--disable-component-update", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--remote-debugging-port=0", "about:blank"])
            // Its own process group: Chromium forks renderers and helpers, and Drop kills them all.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Chromium at {path}: {e}"));
        let (mut err, err_tail) = read_lines(child.stderr.take().unwrap());
        let mut chromium = Chromium { child, ws_url: String::new(), _profile: profile };
        let url = wait_line(&mut err, Duration::from_secs(30), |l| {
            l.split_once("DevTools listening on ").map(|(_, u)| u.trim().to_string())
        })
        .await;
        match url {
            Ok(url) => chromium.ws_url = url,
            Err(why) => panic!(
                "Chromium ({path}) never printed its DevTools address ({why}); exit status {:?}\nstderr:\n{}",
                chromium.child.try_wait(),
                tail_text(&err_tail)
            ),
        }
        chromium
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)); std has no killpg, so ask kill(1).
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
