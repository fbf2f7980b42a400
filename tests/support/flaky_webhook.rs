//! A webhook receiver that misbehaves on purpose, for the fault soak: a plain TCP server on
//! 127.0.0.1 (so it can do what an HTTP framework will not: reset a connection, or hold one
//! without answering) that answers a random share of requests with a 5xx, a 429 with
//! `Retry-After: 1`, a connection reset, or a stall that never answers.
//!
//! A request counts as received only when it was answered 200: that is what the sender can
//! take as delivered. Each accepted body is kept with the time it was accepted, on the
//! machine's monotonic clock ([`super::monotonic_ns`]), so that a test can tell which run of a
//! killed and restarted sender it came from.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request answered 200.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// When it was answered, in [`super::monotonic_ns`] time.
    pub at_ns: u64,
    pub body: Vec<u8>,
}

impl Accepted {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("an accepted body is JSON")
    }
}

/// A way to refuse one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// 500, 502 or 503.
    ServerError,
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// The connection is reset (RST) after the request was read.
    Reset,
    /// No answer; the connection is closed after the stall.
    Stall,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "5xx",
            Fault::TooManyRequests => "429",
            Fault::Reset => "reset",
            Fault::Stall => "stall",
        }
    }

    /// Picks a fault: 5xx 35%, 429 20%, reset 25%, stall 20%.
    fn pick(rng: &mut StdRng) -> Fault {
        match rng.random_range(0..100) {
            0..35 => Fault::ServerError,
            35..55 => Fault::TooManyRequests,
            55..80 => Fault::Reset,
            _ => Fault::Stall,
        }
    }
}

struct Shared {
    rng: Mutex<StdRng>,
    /// Share of requests refused, in thousandths.
    rate_per_mille: AtomicU32,
    stall: Duration,
    accepted: Mutex<Vec<Accepted>>,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    stop: AtomicBool,
}

pub struct FlakyWebhook {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl FlakyWebhook {
    /// Refuses a share `fault_rate` (0.0 to 1.0) of requests; a stall lasts `stall`. The same
    /// `seed` gives the same sequence of choices.
    pub fn start(seed: u64, fault_rate: f64, stall: Duration) -> FlakyWebhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the flaky webhook");
        let addr = listener.local_addr().expect("flaky webhook address");
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            rate_per_mille: AtomicU32::new(per_mille(fault_rate)),
            stall,
            accepted: Mutex::new(Vec::new()),
            faults: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
        });
        let state = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&state);
                // Detached: a stalled connection must not hold anything else up.
                std::thread::spawn(move || handle(&state, stream));
            }
        });
        FlakyWebhook {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_fault_rate(&self, fault_rate: f64) {
        self.shared
            .rate_per_mille
            .store(per_mille(fault_rate), Ordering::SeqCst);
    }

    /// Every request answered 200, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.shared.accepted).clone()
    }

    /// How many requests were refused, by fault name.
    pub fn faults(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.shared.faults).clone()
    }
}

impl Drop for FlakyWebhook {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn per_mille(rate: f64) -> u32 {
    (rate.clamp(0.0, 1.0) * 1000.0).round() as u32
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn handle(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(body) = read_request(&mut stream) else {
        return;
    };
    let fault = {
        let mut rng = lock(&shared.rng);
        let refused = rng.random_range(0..1000) < shared.rate_per_mille.load(Ordering::SeqCst);
        refused.then(|| (Fault::pick(&mut rng), rng.random_range(0..3usize)))
    };
    if let Some((fault, _)) = fault {
        *lock(&shared.faults).entry(fault.name()).or_insert(0) += 1;
    }
    match fault {
        None => {
            lock(&shared.accepted).push(Accepted {
                at_ns: super::monotonic_ns(),
                body,
            });
            respond(&mut stream, "200 OK", "", "ok");
        }
        Some((Fault::ServerError, which)) => {
            let status = [
                "500 Internal Server Error",
                "502 Bad Gateway",
                "503 Service Unavailable",
            ][which];
            respond(&mut stream, status, "", "try again later");
        }
        Some((Fault::TooManyRequests, _)) => {
            respond(
                &mut stream,
                "429 Too Many Requests",
                "Retry-After: 1\r\n",
                "slow down",
            );
        }
        Some((Fault::Reset, _)) => {
            // Linger 0: closing sends RST instead of FIN.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        Some((Fault::Stall, _)) => std::thread::sleep(shared.stall),
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Reads one request; returns its body (`None` when the connection ended first).
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    Some(data[head_end..head_end + length].to_vec())
}
