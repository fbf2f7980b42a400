//! Hostile servers on 127.0.0.1, written on raw tokio TCP so that they can misbehave below
//! HTTP and SMTP: bodies of hundreds of megabytes, bodies and header blocks that never end,
//! JSON nested 200,000 deep, one byte a second, reply lines without end. And a way to run the
//! real binary against them that measures its peak resident memory from outside (`wait4`).
//!
//! Every attack is bounded on the server's side too ([`ATTACK_LIMIT`] bytes, [`ATTACK_TIME`]),
//! so a client that keeps reading cannot keep a test running for ever. Each server runs on its
//! own thread and runtime, so it works from plain `#[test]`s that block on the child.

use super::harness::{Run, BIN};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a server that "never ends" sends at most: 1 GiB.
pub const ATTACK_LIMIT: u64 = 1 << 30;
/// How long one attack goes on at most.
pub const ATTACK_TIME: Duration = Duration::from_secs(60);
/// 200 MB: what the huge bodies, replies and greetings weigh.
pub const HUGE: u64 = 200_000_000;
/// How much is written at a time when sending as fast as the peer reads.
const BLOCK: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The servers' common part: a listener on its own thread, one task per connection
// ---------------------------------------------------------------------------------------------

/// A listener whose connections are served by `serve`; counts the bytes written to clients.
struct Listener {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start<F, Fut>(serve: F) -> Listener
    where
        F: Fn(TcpStream, Counter) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a hostile server");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("hostile server address");
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Counter(Arc::clone(&sent));
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("hostile server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((socket, _)) = accepted else { continue };
                            let _ = socket.set_nodelay(true);
                            let attack = serve(socket, counter.clone());
                            // The client hanging up ends an attack: its error is expected.
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(ATTACK_TIME, attack).await;
                            });
                        }
                        _ = &mut stop => break,
                    }
                }
            });
            // Attacks still running are dropped with the runtime, closing their sockets.
            runtime.shutdown_background();
        });
        Listener {
            addr,
            sent,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes to a client, adding up what it took.
#[derive(Clone)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    async fn write(&self, socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
        socket.write_all(bytes).await?;
        self.0.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// `total` bytes of `fill`, as fast as the client reads (a `u64::MAX` total: until
    /// [`ATTACK_LIMIT`]).
    async fn flood(&self, socket: &mut TcpStream, fill: u8, total: u64) -> std::io::Result<()> {
        let block = vec![fill; BLOCK];
        let mut left = total.min(ATTACK_LIMIT);
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(BLOCK).min(BLOCK);
            self.write(socket, &block[..n]).await?;
            left -= n as u64;
        }
        Ok(())
    }

    /// `bytes`, one a second.
    async fn trickle(&self, socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
        for byte in bytes {
            self.write(socket, std::slice::from_ref(byte)).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    }
}

/// Reads an HTTP request head and its `Content-Length` body (so that the client is not left
/// blocked on sending), at most 1 MiB in all.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 || request.len() > 1 << 20 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body_read = request.len() - head_end;
    while body_read < length.min(1 << 20) {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        body_read += n;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// How a hostile HTTP server answers every request.
#[derive(Debug, Clone)]
pub enum HttpAttack {
    /// `Content-Length: HUGE`: `start`, then spaces up to [`HUGE`] bytes, as fast as the client
    /// reads. JSON allows trailing spaces, so the whole body — and any prefix of it that
    /// holds `start` — reads as the small answer `start`.
    HugeBody { start: String },
    /// A chunked body that never ends: `start`, then chunks of spaces.
    EndlessChunked { start: String },
    /// A complete body of `depth` `[` followed by as many `]`.
    DeepNesting { depth: usize },
    /// The whole response, status line first, one byte a second.
    OneByteASecond,
    /// A header line of this many bytes.
    HugeHeaderLine { bytes: usize },
    /// Header lines without end.
    EndlessHeaders,
}

/// A hostile HTTP/1.1 server. Dropping it stops the server and every attack under way.
pub struct HostileHttp {
    listener: Listener,
}

impl HostileHttp {
    /// Answers every request with `status`, the `headers` given, and `attack`.
    pub fn start(status: u16, headers: &[(&str, &str)], attack: HttpAttack) -> HostileHttp {
        let mut head = format!("HTTP/1.1 {status} Hostile\r\nContent-Type: application/json\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let head = Arc::new(head);
        let attack = Arc::new(attack);
        let listener = Listener::start(move |mut socket, out| {
            let head = Arc::clone(&head);
            let attack = Arc::clone(&attack);
            async move {
                read_request(&mut socket).await?;
                http_attack(&mut socket, &out, &head, &attack).await
            }
        });
        HostileHttp { listener }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.listener.addr)
    }

    /// Bytes written to clients so far.
    pub fn sent(&self) -> u64 {
        self.listener.sent()
    }
}

async fn http_attack(
    socket: &mut TcpStream,
    out: &Counter,
    head: &str,
    attack: &HttpAttack,
) -> std::io::Result<()> {
    match attack {
        HttpAttack::HugeBody { start } => {
            out.write(
                socket,
                format!("{head}Content-Length: {HUGE}\r\n\r\n{start}").as_bytes(),
            )
            .await?;
            out.flood(socket, b' ', HUGE - start.len() as u64).await
        }
        HttpAttack::EndlessChunked { start } => {
            let first = format!("{:x}\r\n{start}\r\n", start.len());
            out.write(
                socket,
                format!("{head}Transfer-Encoding: chunked\r\n\r\n{first}").as_bytes(),
            )
            .await?;
            let mut chunk = format!("{BLOCK:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b' ', BLOCK));
            chunk.extend_from_slice(b"\r\n");
            while out.0.load(Ordering::Relaxed) < ATTACK_LIMIT {
                out.write(socket, &chunk).await?;
            }
            Ok(())
        }
        HttpAttack::DeepNesting { depth } => {
            let body = format!("{}{}", "[".repeat(*depth), "]".repeat(*depth));
            out.write(
                socket,
                format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes(),
            )
            .await
        }
        HttpAttack::OneByteASecond => {
            let response = format!("{head}Content-Length: 2\r\n\r\n{{}}");
            out.trickle(socket, response.as_bytes()).await
        }
        HttpAttack::HugeHeaderLine { bytes } => {
            out.write(socket, format!("{head}X-Hostile: ").as_bytes())
                .await?;
            out.flood(socket, b'a', *bytes as u64).await?;
            out.write(socket, b"\r\nContent-Length: 2\r\n\r\n{}").await
        }
        HttpAttack::EndlessHeaders => {
            out.write(socket, head.as_bytes()).await?;
            let mut n = 0u64;
            while out.0.load(Ordering::Relaxed) < ATTACK_LIMIT {
                n += 1;
                out.write(
                    socket,
                    format!("X-Hostile-{n}: {}\r\n", "a".repeat(64)).as_bytes(),
                )
                .await?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP
// ---------------------------------------------------------------------------------------------

/// How a hostile SMTP server talks.
#[derive(Debug, Clone, Copy)]
pub enum SmtpAttack {
    /// A greeting of `220-` lines adding up to [`HUGE`] bytes, then `220 `.
    HugeGreeting,
    /// A normal greeting, then an EHLO reply that is one line of this many bytes.
    HugeReplyLine { bytes: usize },
    /// A greeting line that never ends: bytes without CRLF.
    EndlessLine,
    /// A normal greeting, then an EHLO reply of `250-` lines without end.
    EndlessMultiline,
    /// The greeting one byte a second.
    OneByteASecond,
}

/// A hostile SMTP server (plain, no TLS). Dropping it stops it.
pub struct HostileSmtp {
    listener: Listener,
}

impl HostileSmtp {
    pub fn start(attack: SmtpAttack) -> HostileSmtp {
        let listener = Listener::start(move |mut socket, out| async move {
            smtp_attack(&mut socket, &out, attack).await
        });
        HostileSmtp { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.addr.port()
    }

    /// Bytes written to clients so far.
    pub fn sent(&self) -> u64 {
        self.listener.sent()
    }
}

const GREETING: &[u8] = b"220 hostile.example ESMTP\r\n";

/// Waits for one command line from the client (at most 64 KiB).
async fn read_command(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        if socket.read(&mut byte).await? == 0 || line.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
    }
    Ok(())
}

async fn smtp_attack(
    socket: &mut TcpStream,
    out: &Counter,
    attack: SmtpAttack,
) -> std::io::Result<()> {
    match attack {
        SmtpAttack::HugeGreeting => {
            let line = format!("220-{}\r\n", "a".repeat(96));
            let block = line.repeat(BLOCK / line.len());
            let mut sent = 0u64;
            while sent < HUGE {
                out.write(socket, block.as_bytes()).await?;
                sent += block.len() as u64;
            }
            out.write(socket, GREETING).await
        }
        SmtpAttack::HugeReplyLine { bytes } => {
            out.write(socket, GREETING).await?;
            read_command(socket).await?;
            out.write(socket, b"250 ").await?;
            out.flood(socket, b'a', bytes as u64).await?;
            out.write(socket, b"\r\n").await
        }
        SmtpAttack::EndlessLine => {
            out.write(socket, b"220 ").await?;
            out.flood(socket, b'a', u64::MAX).await
        }
        SmtpAttack::EndlessMultiline => {
            out.write(socket, GREETING).await?;
            read_command(socket).await?;
            let line = format!("250-{}\r\n", "a".repeat(96));
            let block = line.repeat(BLOCK / line.len());
            while out.0.load(Ordering::Relaxed) < ATTACK_LIMIT {
                out.write(socket, block.as_bytes()).await?;
            }
            Ok(())
        }
        SmtpAttack::OneByteASecond => out.trickle(socket, GREETING).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary with its memory measured
// ---------------------------------------------------------------------------------------------

/// A finished run of the binary and what it cost.
#[derive(Debug)]
pub struct MeasuredRun {
    pub run: Run,
    /// The child's own peak resident set, in KiB (see [`run_measured`]).
    pub max_rss_kib: u64,
    pub elapsed: Duration,
}

/// `VmHWM` (peak resident set, KiB) of a live process, from `/proc/<pid>/status`.
fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `renewd --config <config> <args…>` at log level `info` until it ends, and measures its
/// peak resident memory. Kills it and panics after `limit`: a hang is a failure, not a slow
/// pass.
///
/// The peak is `ru_maxrss` from `wait4`, which the kernel keeps to the end and so misses no
/// spike. It is at least the spawning process's own peak at the time of the exec (Linux
/// carries the old address space's high-water mark over an exec), so it tells the child's
/// peak only when it is above the test process's; otherwise (say, a backtrace has swollen the
/// test process) the child's `VmHWM`, sampled every 10 ms while it ran, is taken instead.
// The child is reaped by `wait4` itself, which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_measured(config: &Path, args: &[&str], limit: Duration) -> MeasuredRun {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in super::inherited_vars_to_scrub() {
        command.env_remove(key);
    }
    command.env("RENEWD_LOG", "info");
    let parent_peak = vm_hwm_kib("self").unwrap_or(0);
    let started = Instant::now();
    let mut child = command.spawn().expect("start the renewd binary");
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut sampled_peak = 0;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: a plain syscall on our own child, with pointers to locals it fills in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        if let Some(peak) = vm_hwm_kib(&pid.to_string()) {
            sampled_peak = sampled_peak.max(peak);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "renewd {args:?} did not end within {limit:?}\n--- stderr\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let reported = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    MeasuredRun {
        run: Run {
            code,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        },
        max_rss_kib: if reported > parent_peak {
            reported
        } else {
            sampled_peak
        },
        elapsed,
    }
}
