//! The data sequence of the soak: for every epoch (one recorded cycle each) and every project,
//! what the CodeArts stand-in serves — packages whose remaining days fall, cross thresholds,
//! are renewed, expire through grace, retention and deletion, change status, vanish and come
//! back (sometimes as a new resource), and polls that fail for a few cycles in a row.
//! Generated from a seed, so that a run can be repeated.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

pub const STORAGE: &str = "codeartsStorageExtension";
pub const TRAFFIC: &str = "codeartsTrafficExtension";
const SERVICE_TYPE: &str = "hws.resource.type.codearts.extension";

/// One package entry as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkg {
    pub key: String,
    pub resource_id: String,
    pub status: i64,
    pub remain: i64,
}

/// A poll that fails for the whole epoch (every attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollFault {
    /// HTTP 500: transient, so the client retries it before giving up.
    ServerError,
    /// 200 with `{"status":"error"}`.
    StatusError,
    /// 200 with an HTML page.
    NonJson,
}

/// A single refused attempt that the client's retry gets past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blip {
    Unavailable,
    /// 429 with `Retry-After: 1`.
    Throttled,
}

#[derive(Debug, Clone)]
pub struct ProjectEpoch {
    pub outcome: Result<Vec<Pkg>, PollFault>,
    /// The first attempt of this epoch is refused this way.
    pub blip: Option<Blip>,
}

impl ProjectEpoch {
    /// The `result` map of a successful answer.
    pub fn result_json(packages: &[Pkg]) -> Value {
        let mut map = serde_json::Map::new();
        for p in packages {
            map.insert(
                p.key.clone(),
                json!({
                    "resourceId": p.resource_id,
                    "serviceType": format!("{SERVICE_TYPE}.{}", if p.key == STORAGE { "storage" } else { "traffic" }),
                    "packageStatus": p.status,
                    "remainDays": p.remain,
                    "nextActionUrl": format!("https://console.example.com/renew?resource={}", p.resource_id),
                }),
            );
        }
        Value::Object(map)
    }
}

pub struct Scenario {
    pub projects: Vec<String>,
    /// `epochs[e][p]`: what project `p` serves in epoch `e`.
    pub epochs: Vec<Vec<ProjectEpoch>>,
}

/// A package as the simulation moves it along.
struct Sim {
    key: &'static str,
    resource_id: String,
    status: i64,
    remain: i64,
    /// Epochs left before it is listed again (0: listed).
    hidden: u32,
}

struct ProjectSim {
    packages: Vec<Sim>,
    failing_for: u32,
    fault: PollFault,
}

impl Scenario {
    /// `epochs` epochs for `projects` projects; from epoch `calm_from` on, no poll fails (the
    /// soak's last cycles, run once the faults have stopped).
    pub fn generate(seed: u64, projects: usize, epochs: usize, calm_from: usize) -> Scenario {
        let mut rng = StdRng::seed_from_u64(seed);
        let ids: Vec<String> = (0..projects).map(|_| hex32(&mut rng)).collect();
        let mut sims: Vec<ProjectSim> = (0..projects)
            .map(|_| ProjectSim {
                packages: vec![
                    new_package(&mut rng, STORAGE),
                    new_package(&mut rng, TRAFFIC),
                ],
                failing_for: 0,
                fault: PollFault::ServerError,
            })
            .collect();
        let mut all = Vec::with_capacity(epochs);
        for epoch in 0..epochs {
            let calm = epoch >= calm_from;
            let mut row = Vec::with_capacity(projects);
            for project in &mut sims {
                if epoch > 0 {
                    for package in &mut project.packages {
                        evolve(&mut rng, package);
                    }
                }
                let failing = if calm {
                    project.failing_for = 0;
                    false
                } else if project.failing_for > 0 {
                    project.failing_for -= 1;
                    true
                } else if rng.random_bool(0.012) {
                    // Runs of 1 to 4 failed cycles: with failure_alert_after = 2, most of them
                    // raise poll_failed and then poll_recovered.
                    project.failing_for = rng.random_range(0..4);
                    project.fault = match rng.random_range(0..3) {
                        0 => PollFault::ServerError,
                        1 => PollFault::StatusError,
                        _ => PollFault::NonJson,
                    };
                    true
                } else {
                    false
                };
                let blip = (!calm && rng.random_bool(0.02)).then(|| {
                    if rng.random_bool(0.5) {
                        Blip::Unavailable
                    } else {
                        Blip::Throttled
                    }
                });
                let outcome = if failing {
                    Err(project.fault)
                } else {
                    Ok(project
                        .packages
                        .iter()
                        .filter(|p| p.hidden == 0)
                        .map(|p| Pkg {
                            key: p.key.to_string(),
                            resource_id: p.resource_id.clone(),
                            status: p.status,
                            remain: p.remain,
                        })
                        .collect())
                };
                row.push(ProjectEpoch { outcome, blip });
            }
            all.push(row);
        }
        Scenario {
            projects: ids,
            epochs: all,
        }
    }
}

fn hex32(rng: &mut StdRng) -> String {
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn new_package(rng: &mut StdRng, key: &'static str) -> Sim {
    let (status, remain) = if rng.random_bool(0.1) {
        (5, rng.random_range(-3..=0))
    } else {
        (2, rng.random_range(1..=45))
    };
    Sim {
        key,
        resource_id: hex32(rng),
        status,
        remain,
        hidden: 0,
    }
}

fn is_expired(p: &Sim) -> bool {
    p.remain <= 0 || matches!(p.status, 3 | 4 | 5 | 99)
}

/// One epoch of a package's life.
fn evolve(rng: &mut StdRng, p: &mut Sim) {
    if p.hidden > 0 {
        p.hidden -= 1;
        p.remain -= 1;
        if p.hidden == 0 && rng.random_bool(0.3) {
            // Back as a different resource: a new package to renewd.
            let fresh = new_package(rng, p.key);
            p.resource_id = fresh.resource_id;
            p.status = 2;
            p.remain = rng.random_range(15..=60);
        }
        return;
    }
    let r: f64 = rng.random();
    if r < 0.04 {
        p.hidden = rng.random_range(1..=4);
    } else if is_expired(p) {
        let r: f64 = rng.random();
        if r < 0.12 {
            p.remain = rng.random_range(30..=120);
            p.status = 2;
        } else if r < 0.40 {
            // grace -> retention -> deleted
            p.status = match p.status {
                2 | 1 => 5,
                5 => 4,
                _ => 3,
            };
            p.remain -= 1;
        } else {
            p.remain -= rng.random_range(0..=2);
        }
    } else if p.remain <= 10 && r < 0.16 {
        p.remain += rng.random_range(30..=365);
    } else if r < 0.20 {
        p.status = if p.status == 2 {
            if rng.random_bool(0.5) {
                1
            } else {
                99
            }
        } else {
            2
        };
    } else if r < 0.23 {
        // A rise of one day: a clock boundary, not a renewal.
        p.remain += 1;
    } else {
        p.remain -= rng.random_range(0..=3);
    }
}
