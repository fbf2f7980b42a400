//! `renewd silence add|list|expire`: hold back what is decided about some packages (a
//! renewal already in approval, say) without editing rules. Silences live in the state file,
//! so a running daemon honours them at its next cycle without a reload; these commands work
//! beside it.

use super::{write_table, CommandError, EXIT_OK};
use crate::app::App;
use crate::model::{Silence, SilenceMatchers};
use crate::state::StateStore;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use std::io::Write;

/// `renewd silence add`: stores a silence and says what it holds back, until when.
pub fn silence_add(
    app: &App,
    matchers: &str,
    until: &str,
    reason: &str,
    by: Option<&str>,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let matchers = parse_matchers(matchers).map_err(CommandError::Usage)?;
    let tz = app.config.daemon.tz();
    let ends_at = parse_until(until, tz, now).map_err(CommandError::Usage)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(CommandError::Usage(
            "--reason must say why (it is shown beside every silenced package)".into(),
        ));
    }
    let by = by.map_or_else(invoking_user, str::to_string);
    let mut store = StateStore::open_for_silences(&app.config.daemon.state_path)?;
    let id = store.add_silence(&matchers, now, ends_at, reason, &by)?;
    tracing::info!(
        event = "silence.added",
        silence_id = id,
        matchers = %matchers,
        ends_at = %ends_at.to_rfc3339(),
        created_by = %by,
        "silence added"
    );
    writeln!(
        out,
        "silence #{id} added: {matchers} until {} ({}), by {by}: {reason}",
        ends_at.format("%Y-%m-%d %H:%M UTC"),
        ends_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
    )?;
    Ok(EXIT_OK)
}

/// `renewd silence list [--json]`: every silence, in force or not.
pub fn silence_list(
    app: &App,
    json: bool,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let store = StateStore::open_read_only(&app.config.daemon.state_path)?;
    let silences = store.silences(DateTime::<Utc>::MIN_UTC)?;
    if json {
        let entries: Vec<ListEntry<'_>> = silences.iter().map(|s| ListEntry::new(s, now)).collect();
        serde_json::to_writer_pretty(&mut *out, &entries).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }
    if silences.is_empty() {
        writeln!(out, "no silences")?;
        return Ok(EXIT_OK);
    }
    let tz = app.config.daemon.tz();
    let mut rows = vec![["ID", "STATE", "MATCH", "UNTIL", "BY", "REASON"]
        .map(String::from)
        .to_vec()];
    for s in &silences {
        rows.push(vec![
            format!("#{}", s.id),
            state_of(s, now).to_string(),
            s.matchers.to_string(),
            s.end()
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            s.created_by.clone(),
            s.reason.clone(),
        ]);
    }
    write_table(&rows, out)?;
    Ok(EXIT_OK)
}

/// `renewd silence expire ID`: ends a silence now. What it held back and is still due goes
/// out at the next cycle.
pub fn silence_expire(
    app: &App,
    id: &str,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<u8, CommandError> {
    let id: i64 = id.trim_start_matches('#').parse().map_err(|_| {
        CommandError::Usage(format!(
            "{id:?} is not a silence id (see `renewd silence list`)"
        ))
    })?;
    let mut store = StateStore::open_for_silences(&app.config.daemon.state_path)?;
    match store.expire_silence(id, now)? {
        None => Err(CommandError::Failed(format!("there is no silence #{id}"))),
        Some(s) if !s.in_force(now) => {
            writeln!(
                out,
                "silence #{id} had already ended ({})",
                state_of(&s, now)
            )?;
            Ok(EXIT_OK)
        }
        Some(s) => {
            tracing::info!(
                event = "silence.expired",
                silence_id = id,
                "silence expired"
            );
            writeln!(
                out,
                "silence #{id} expired ({}); what it held back and is still due goes out at the next cycle",
                s.matchers
            )?;
            Ok(EXIT_OK)
        }
    }
}

#[derive(Serialize)]
struct ListEntry<'a> {
    id: i64,
    state: &'static str,
    #[serde(rename = "match")]
    matchers: &'a SilenceMatchers,
    created_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    expired_at: Option<DateTime<Utc>>,
    created_by: &'a str,
    reason: &'a str,
}

impl<'a> ListEntry<'a> {
    fn new(s: &'a Silence, now: DateTime<Utc>) -> Self {
        ListEntry {
            id: s.id,
            state: state_of(s, now),
            matchers: &s.matchers,
            created_at: s.created_at,
            ends_at: s.ends_at,
            expired_at: s.expired_at,
            created_by: &s.created_by,
            reason: &s.reason,
        }
    }
}

fn state_of(s: &Silence, now: DateTime<Utc>) -> &'static str {
    match (s.in_force(now), s.expired_at) {
        (true, _) => "active",
        (false, Some(e)) if e < s.ends_at => "expired",
        (false, _) => "ended",
    }
}

/// `account=prod,package=codeartsStorage*`: globs on account, project, package, resource.
fn parse_matchers(text: &str) -> Result<SilenceMatchers, String> {
    let mut matchers = SilenceMatchers::default();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, glob)) = pair.split_once('=') else {
            return Err(format!(
                "--match: {pair:?} is not key=glob (keys: account, project, package, resource)"
            ));
        };
        let (key, glob) = (key.trim(), glob.trim());
        let slot = match key {
            "account" => &mut matchers.account,
            "project" => &mut matchers.project,
            "package" => &mut matchers.package,
            "resource" => &mut matchers.resource,
            other => {
                return Err(format!(
                    "--match: unknown key {other:?} (keys: account, project, package, resource)"
                ))
            }
        };
        if glob.is_empty() {
            return Err(format!("--match: {key} has an empty glob"));
        }
        if slot.replace(glob.to_string()).is_some() {
            return Err(format!("--match: {key} is given twice"));
        }
    }
    if matchers == SilenceMatchers::default() {
        return Err(
            "--match needs at least one key=glob (keys: account, project, package, resource)"
                .into(),
        );
    }
    crate::rules::check_matchers(&matchers)
        .map_err(|e| format!("--match: {}", crate::error_chain(&e)))?;
    Ok(matchers)
}

/// `2026-12-20` (the end of that day in the daemon's time zone), an RFC 3339 time, or a
/// duration from now (`36h`, `7d`). Must lie after `now`.
fn parse_until(text: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let end = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let next = day
            .succ_opt()
            .ok_or_else(|| format!("--until: {text} is out of range"))?;
        // The first instant of the next day there (earliest, should it fall in a DST gap).
        tz.from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .ok_or_else(|| format!("--until: the end of {text} does not exist in {tz}"))?
            .with_timezone(&Utc)
    } else if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = humantime::parse_duration(text) {
        let d =
            chrono::Duration::from_std(d).map_err(|_| format!("--until: {text} is too long"))?;
        now.checked_add_signed(d)
            .ok_or_else(|| format!("--until: {text} is too long"))?
    } else {
        return Err(format!(
            "--until: {text:?} is neither a date (2026-12-20), an RFC 3339 time \
             (2026-12-20T09:00:00+08:00) nor a duration (36h, 7d)"
        ));
    };
    if end <= now {
        return Err(format!(
            "--until: {} is not in the future",
            end.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    Ok(end)
}

/// Who runs the command: the user behind sudo, else the login name.
fn invoking_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn until_reads_a_date_as_the_end_of_that_day_in_the_daemon_zone() {
        let now = at("2026-12-07T01:00:00Z");
        let shanghai: chrono_tz::Tz = "Asia/Shanghai".parse().expect("zone");
        assert_eq!(
            parse_until("2026-12-20", shanghai, now),
            Ok(at("2026-12-20T16:00:00Z"))
        );
        assert_eq!(
            parse_until("2026-12-20", chrono_tz::UTC, now),
            Ok(at("2026-12-21T00:00:00Z"))
        );
        assert_eq!(
            parse_until("2026-12-20T09:00:00+08:00", chrono_tz::UTC, now),
            Ok(at("2026-12-20T01:00:00Z"))
        );
        assert_eq!(
            parse_until("36h", chrono_tz::UTC, now),
            Ok(at("2026-12-08T13:00:00Z"))
        );
        assert_eq!(
            parse_until("7d", chrono_tz::UTC, now),
            Ok(at("2026-12-14T01:00:00Z"))
        );
        assert!(parse_until("2026-12-06", chrono_tz::UTC, now)
            .unwrap_err()
            .contains("not in the future"));
        assert!(parse_until("soon", chrono_tz::UTC, now)
            .unwrap_err()
            .contains("neither a date"));
    }

    #[test]
    fn match_reads_key_glob_pairs_and_refuses_what_it_cannot_read() {
        let m = parse_matchers("account=prod, package=codeartsStorage*").expect("parses");
        assert_eq!(m.account.as_deref(), Some("prod"));
        assert_eq!(m.package.as_deref(), Some("codeartsStorage*"));
        assert_eq!(m.project, None);
        assert!(parse_matchers("acount=prod")
            .unwrap_err()
            .contains("unknown key \"acount\""));
        assert!(parse_matchers("account")
            .unwrap_err()
            .contains("not key=glob"));
        assert!(parse_matchers("account=a,account=b")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_matchers("").unwrap_err().contains("at least one"));
        assert!(parse_matchers("package=[")
            .unwrap_err()
            .contains("not a valid glob"));
    }
}
