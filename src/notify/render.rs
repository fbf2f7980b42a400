//! The wording shared by every receiver: ordering, dates, labels, headline, plurals, escaping
//! and safe links. Pure functions over [`Alert`]s, so each message format renders the same
//! facts the same way; receivers use this module, never one another.

use super::Digest;
use crate::model::{Alert, AlertKind, Severity};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;

/// The alerts, most urgent first (critical before warning, fewest remaining days first).
pub fn sorted_by_urgency(alerts: &[Alert]) -> Vec<&Alert> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by_key(|a| a.urgency_key());
    sorted
}

/// `sent_at` as a local time for people, e.g. `2026-11-26 09:00 CST`.
pub(crate) fn local_time(sent_at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    sent_at
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The estimated last day of the package: the day (in GMT+08:00, Huawei's billing day) on
/// which the remaining days were read, plus those days. Counted from the poll, not from when
/// the message goes out, so a message retried days later still names the same day.
pub(crate) fn estimated_expiry(alert: &Alert) -> Option<NaiveDate> {
    crate::model::billing_last_day(alert.raised_at, alert.remain_days?)
}

/// [`estimated_expiry`] as `YYYY-MM-DD`, or `-` when the alert has no remaining days.
pub(crate) fn expiry_label(alert: &Alert) -> String {
    estimated_expiry(alert)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Status name and raw number, e.g. `active (2)`; an unknown number is shown, never dropped.
pub(crate) fn status_label(alert: &Alert) -> String {
    match (alert.package_status_name.as_deref(), alert.package_status) {
        (Some(name), Some(n)) => format!("{name} ({n})"),
        (None, Some(n)) => format!("{} ({n})", crate::model::package_status_name(Some(n))),
        (Some(name), None) => name.to_string(),
        (None, None) => "-".into(),
    }
}

/// The project id, or `(account)` when the account was asked as a whole.
pub(crate) fn project_label(alert: &Alert) -> &str {
    alert.project_id.as_deref().unwrap_or("(account)")
}

/// Remaining days for people: `11 days`, `1 day`, `0 days`, `-`.
pub(crate) fn remaining_label(alert: &Alert) -> String {
    match alert.remain_days {
        Some(1) => "1 day".into(),
        Some(n) => format!("{n} days"),
        None => "-".into(),
    }
}

/// A short label of the alert's kind and severity, e.g. `WARNING expiring`.
pub(crate) fn kind_label(alert: &Alert) -> String {
    format!(
        "{} {}",
        alert.severity.as_str().to_ascii_uppercase(),
        kind_name(alert)
    )
}

/// The alert's kind in words, e.g. `expiring`, `status changed`, `expiring (reminder)`.
pub(crate) fn kind_name(alert: &Alert) -> String {
    let kind = match alert.kind {
        AlertKind::StatusChanged => "status changed",
        AlertKind::PollFailed => "poll failed",
        AlertKind::PollRecovered => "poll recovered",
        AlertKind::ProjectRemoved => "project removed",
        other => other.as_str(),
    };
    let reminder = if alert.reminder { " (reminder)" } else { "" };
    format!("{kind}{reminder}")
}

/// The severity as a word for people, shown next to its colour (never colour alone):
/// `Critical`, `Warning`, `Info`.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
        Severity::Info => "Info",
    }
}

/// When the package expires, in words and as the estimated date: `expires in 11 days
/// (2026-12-07)`, `expires in 1 day (…)`, `expires today (…)`, `expired 2 days ago (…)`; none
/// when the alert has no remaining days.
pub fn expiry_phrase(alert: &Alert) -> Option<String> {
    let days = alert.remain_days?;
    let date = expiry_label(alert);
    Some(match days {
        0 => format!("expires today ({date})"),
        d if d > 0 => format!("expires in {} ({date})", plural(d as usize, "day", "days")),
        d => format!(
            "expired {} ago ({date})",
            plural(d.unsigned_abs() as usize, "day", "days")
        ),
    })
}

/// The digest's summary line: how many alerts of each kind, most urgent kind first, joined
/// by `, ` — e.g. `1 expired, 2 expire within 7 days`. The parts, each present only when
/// counted at least once:
/// - `N expired`;
/// - `N expire within D days`, D being the most remaining days among the expiring packages
///   (so every one of them expires within it; `N expire today` when D is 0, `N expire soon`
///   when none says how many days);
/// - `N changed status`, `N no longer reported`, `N renewed`;
/// - `cannot check N accounts/projects`, `checking works again for N accounts/projects`;
/// - `N test messages`.
///
/// A verb agrees with its count (`1 expires`, `2 expire`). An empty digest says `no alerts`.
pub fn summary_line(alerts: &[Alert]) -> String {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let verb = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let mut parts = Vec::new();
    let expired = count(AlertKind::Expired);
    if expired > 0 {
        parts.push(format!("{expired} expired"));
    }
    let expiring = count(AlertKind::Expiring);
    if expiring > 0 {
        let most = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Expiring)
            .filter_map(|a| a.remain_days)
            .max();
        let expire = verb(expiring, "expires", "expire");
        parts.push(match most {
            Some(d) if d <= 0 => format!("{expiring} {expire} today"),
            Some(d) => format!(
                "{expiring} {expire} within {}",
                plural(d as usize, "day", "days")
            ),
            None => format!("{expiring} {expire} soon"),
        });
    }
    let changed = count(AlertKind::StatusChanged);
    if changed > 0 {
        parts.push(format!("{changed} changed status"));
    }
    let vanished = count(AlertKind::Vanished);
    if vanished > 0 {
        parts.push(format!("{vanished} no longer reported"));
    }
    let renewed = count(AlertKind::Renewed);
    if renewed > 0 {
        parts.push(format!("{renewed} renewed"));
    }
    parts.extend(poll_parts(alerts));
    let tests = count(AlertKind::Test);
    if tests > 0 {
        parts.push(plural(tests, "test message", "test messages"));
    }
    if parts.is_empty() {
        return "no alerts".into();
    }
    parts.join(", ")
}

/// One line saying what the digest is about, starting with "renewd": the subject's wording.
pub(crate) fn headline(digest: &Digest) -> String {
    format!("renewd: {}", what_happened(digest))
}

/// The most severe alert's severity, or `None` when every alert reports a problem solved.
pub(crate) fn worst_severity(digest: &Digest) -> Option<Severity> {
    if digest.alerts.iter().all(|a| a.kind.is_resolution()) {
        return None;
    }
    digest
        .alerts
        .iter()
        .filter(|a| !a.kind.is_resolution())
        .map(|a| a.severity)
        .max()
}

/// The name of what an alert is about: the package key, or the account/project.
pub(crate) fn subject_name(alert: &Alert) -> String {
    match (&alert.package, alert.kind) {
        (Some(p), _) => p.clone(),
        (None, AlertKind::PollFailed | AlertKind::PollRecovered | AlertKind::ProjectRemoved) => {
            format!("{}/{}", alert.account, project_label(alert))
        }
        (None, _) => alert.account.clone(),
    }
}

/// The accounts of the alerts, for a subject line: `prod`, `prod, test` or `3 accounts`.
pub(crate) fn accounts_label(alerts: &[Alert]) -> String {
    let accounts: BTreeSet<&str> = alerts.iter().map(|a| a.account.as_str()).collect();
    match accounts.len() {
        0 => String::new(),
        1 | 2 => accounts.into_iter().collect::<Vec<_>>().join(", "),
        n => format!("{n} accounts"),
    }
}

/// `1 package`, `2 packages`.
pub(crate) fn plural(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The link a message may make clickable: only `https://` (see [`Alert::renew_link`]).
pub(crate) fn safe_link(alert: &Alert) -> Option<&str> {
    alert.renew_link()
}

/// Replaces control characters (line breaks included) so that a value from the API or a
/// server cannot break a line-oriented format such as a mail header or a log line.
pub(crate) fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Longest subject line before it is cut.
pub(crate) const MAX_SUBJECT_CHARS: usize = 200;

/// What starts every subject line.
const SUBJECT_TAG: &str = "[renewd] ";

/// The subject: what happened at a glance, e.g. `[renewd] 2 CodeArts packages expire within
/// 14 days (prod)` or `[renewd] 1 expired, 2 expiring CodeArts packages (prod)`.
pub(crate) fn subject(digest: &Digest) -> String {
    format!("{SUBJECT_TAG}{}", what_happened(digest))
}

/// The subject's words after its `[renewd] ` tag, e.g. `2 CodeArts packages expire within 14
/// days (prod)`: one line, cut so that the whole subject fits [`MAX_SUBJECT_CHARS`].
pub(crate) fn what_happened(digest: &Digest) -> String {
    let alerts = &digest.alerts;
    if alerts.is_empty() {
        return "no alerts".into();
    }
    if alerts.iter().all(|a| a.kind == AlertKind::Test) {
        return "test message".into();
    }
    let headline = if alerts.len() == 1 {
        single_headline(&alerts[0])
    } else {
        counted_headline(alerts)
    };
    let accounts = accounts_label(alerts);
    let line = if accounts.is_empty() {
        headline
    } else {
        format!("{headline} ({accounts})")
    };
    truncate(
        &single_line(&line),
        MAX_SUBJECT_CHARS - SUBJECT_TAG.chars().count(),
    )
}

pub(crate) fn package_name(alert: &Alert) -> &str {
    alert.package.as_deref().unwrap_or("CodeArts package")
}

pub(crate) fn scope_name(alert: &Alert) -> String {
    match &alert.project_id {
        Some(p) => format!("{}/{p}", alert.account),
        None => alert.account.clone(),
    }
}

/// Headline of a digest with one alert: names the package.
pub(crate) fn single_headline(alert: &Alert) -> String {
    let package = package_name(alert);
    let text = match alert.kind {
        AlertKind::Expiring => match alert.remain_days {
            Some(0) => format!("CodeArts package {package} expires today"),
            Some(1) => format!("CodeArts package {package} expires in 1 day"),
            Some(n) => format!("CodeArts package {package} expires in {n} days"),
            None => format!("CodeArts package {package} expires soon"),
        },
        AlertKind::Expired => format!(
            "CodeArts package {package} has expired ({})",
            status_label(alert)
        ),
        AlertKind::Renewed => format!(
            "CodeArts package {package} was renewed ({} left)",
            remaining_label(alert)
        ),
        AlertKind::StatusChanged => {
            format!("CodeArts package {package} is now {}", status_label(alert))
        }
        AlertKind::Vanished => format!("CodeArts package {package} is no longer reported"),
        AlertKind::PollFailed => format!(
            "cannot check the CodeArts packages of {}",
            scope_name(alert)
        ),
        AlertKind::PollRecovered => format!(
            "checking the CodeArts packages of {} works again",
            scope_name(alert)
        ),
        AlertKind::ProjectRemoved => format!(
            "CodeArts project {} is no longer listed; its packages are no longer watched",
            scope_name(alert)
        ),
        AlertKind::Test => "test message".into(),
    };
    if alert.reminder {
        format!("reminder: {text}")
    } else {
        text
    }
}

/// What the poll alerts of a digest say, counted: `cannot check 2 accounts/projects`,
/// `checking works again for 1 account/project`.
fn poll_parts(alerts: &[Alert]) -> Vec<String> {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let mut parts = Vec::new();
    let failed = count(AlertKind::PollFailed);
    if failed > 0 {
        parts.push(format!(
            "cannot check {}",
            plural(failed, "account/project", "accounts/projects")
        ));
    }
    let recovered = count(AlertKind::PollRecovered);
    if recovered > 0 {
        parts.push(format!(
            "checking works again for {}",
            plural(recovered, "account/project", "accounts/projects")
        ));
    }
    parts
}

/// Headline of a digest with several alerts: counts by kind, most urgent kind first.
pub(crate) fn counted_headline(alerts: &[Alert]) -> String {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let package_kinds = [
        (AlertKind::Expired, "expired"),
        (AlertKind::Expiring, "expiring"),
        (AlertKind::StatusChanged, "status-changed"),
        (AlertKind::Vanished, "vanished"),
        (AlertKind::Renewed, "renewed"),
        (AlertKind::Test, "test"),
    ];
    let present: Vec<(AlertKind, &str, usize)> = package_kinds
        .iter()
        .map(|(k, word)| (*k, *word, count(*k)))
        .filter(|(_, _, n)| *n > 0)
        .collect();
    let packages: usize = present.iter().map(|(_, _, n)| n).sum();

    let mut parts = Vec::new();
    match present.as_slice() {
        [] => {}
        [(AlertKind::Expiring, _, n)] => {
            let within = alerts
                .iter()
                .filter(|a| a.kind == AlertKind::Expiring)
                .filter_map(|a| a.threshold.or(a.remain_days))
                .max();
            let verb = if *n == 1 { "expires" } else { "expire" };
            parts.push(match within {
                Some(days) => format!(
                    "{} {verb} within {}",
                    plural(*n, "CodeArts package", "CodeArts packages"),
                    plural(days.max(0) as usize, "day", "days")
                ),
                None => format!(
                    "{} {verb} soon",
                    plural(*n, "CodeArts package", "CodeArts packages")
                ),
            });
        }
        [(_, word, n)] => parts.push(format!(
            "{} {word}",
            plural(*n, "CodeArts package", "CodeArts packages")
        )),
        several => {
            let counts: Vec<String> = several
                .iter()
                .map(|(_, word, n)| format!("{n} {word}"))
                .collect();
            let noun = if packages == 1 {
                "CodeArts package"
            } else {
                "CodeArts packages"
            };
            parts.push(format!("{} {noun}", counts.join(", ")));
        }
    }
    parts.extend(poll_parts(alerts));
    parts.join("; ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The fixed instant the test alerts are raised and sent at: 2026-11-26 01:00 UTC (09:00 in
    /// GMT+08:00). Never the wall clock: dates computed from it are asserted.
    pub(crate) fn sent_at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
            .expect("valid timestamp")
            .with_timezone(&Utc)
    }

    /// A digest for receiver "ops" sent at [`sent_at`], dates shown in Asia/Shanghai.
    pub(crate) fn digest(alerts: Vec<Alert>) -> Digest {
        Digest {
            receiver: "ops".into(),
            alerts,
            sent_at: sent_at(),
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    pub(crate) fn alert(package: &str, days: Option<i64>, severity: Severity) -> Alert {
        Alert {
            id: format!("id-{package}"),
            kind: AlertKind::Expiring,
            severity,
            rule: "default".into(),
            account: "prod".into(),
            project_id: None,
            source: Default::default(),
            package: Some(package.into()),
            resource_id: Some("r".into()),
            service_type: None,
            package_status: Some(2),
            package_status_name: Some("active".into()),
            remain_days: days,
            threshold: Some(14),
            next_action_url: Some("https://example.com/renew".into()),
            summary: format!("{package} expires"),
            raised_at: sent_at(),
            previous_status: None,
            reminder: false,
            error: None,
            receivers: vec![],
        }
    }

    #[test]
    fn sorts_most_urgent_first() {
        let alerts = vec![
            alert("b", Some(11), Severity::Info),
            alert("c", Some(0), Severity::Critical),
            alert("a", Some(5), Severity::Warning),
            alert("d", Some(3), Severity::Warning),
        ];
        let order: Vec<_> = sorted_by_urgency(&alerts)
            .iter()
            .map(|a| a.package.clone().unwrap())
            .collect();
        assert_eq!(order, ["c", "d", "a", "b"]);
    }

    #[test]
    fn expiry_is_counted_from_the_poll_day_in_gmt_plus_8() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut a = alert("p", Some(11), Severity::Info);
        // Polled at 20:00 UTC on the 25th: already the 26th in GMT+08:00.
        a.raised_at = at("2026-11-25T20:00:00Z");
        assert_eq!(expiry_label(&a), "2026-12-07");
        // At 15:59 UTC it is still the 25th there.
        a.raised_at = at("2026-11-25T15:59:00Z");
        assert_eq!(expiry_label(&a), "2026-12-06");
        let none = alert("p", None, Severity::Info);
        assert_eq!(expiry_label(&none), "-");
    }

    #[test]
    fn escapes_every_html_special_character() {
        assert_eq!(
            escape_html(r#"<script>alert("x")&'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&amp;&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn labels() {
        let mut a = alert("p", Some(1), Severity::Critical);
        assert_eq!(remaining_label(&a), "1 day");
        assert_eq!(status_label(&a), "active (2)");
        a.package_status_name = None;
        a.package_status = Some(42);
        assert_eq!(status_label(&a), "unknown (42)");
        assert_eq!(project_label(&a), "(account)");
        assert_eq!(kind_label(&a), "CRITICAL expiring");
        assert_eq!(plural(1, "package", "packages"), "1 package");
        assert_eq!(plural(3, "package", "packages"), "3 packages");
        assert_eq!(single_line("a\r\nb"), "a  b");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn a_long_subject_is_cut_whole_and_the_headline_shares_its_words() {
        let long = alert(&"k".repeat(300), Some(3), Severity::Warning);
        let d = digest(vec![long]);
        let subject = subject(&d);
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS + 1, "{subject}");
        assert!(
            subject.starts_with("[renewd] CodeArts package kkk"),
            "{subject}"
        );
        assert!(subject.ends_with("kk…"), "{subject}");
        let words = subject.strip_prefix("[renewd] ").unwrap();
        assert_eq!(what_happened(&d), words);
        assert_eq!(headline(&d), format!("renewd: {words}"));
        assert_eq!(headline(&digest(vec![])), "renewd: no alerts");
    }

    fn of_kind(package: &str, kind: AlertKind, days: Option<i64>) -> Alert {
        let mut a = alert(package, days, Severity::Warning);
        a.kind = kind;
        a
    }

    #[test]
    fn summary_line_counts_each_kind_most_urgent_first() {
        let line = |alerts: Vec<Alert>| summary_line(&alerts);
        assert_eq!(
            line(vec![
                of_kind("c", AlertKind::Expiring, Some(7)),
                of_kind("a", AlertKind::Expired, Some(-1)),
                of_kind("b", AlertKind::Expiring, Some(3)),
            ]),
            "1 expired, 2 expire within 7 days"
        );
        assert_eq!(
            line(vec![of_kind("a", AlertKind::Expiring, Some(1))]),
            "1 expires within 1 day"
        );
        assert_eq!(
            line(vec![
                of_kind("a", AlertKind::Expiring, Some(0)),
                of_kind("b", AlertKind::Expiring, Some(0)),
            ]),
            "2 expire today"
        );
        assert_eq!(
            line(vec![of_kind("a", AlertKind::Expiring, None)]),
            "1 expires soon"
        );
        let mut failed = of_kind("x", AlertKind::PollFailed, None);
        failed.package = None;
        assert_eq!(
            line(vec![
                of_kind("r", AlertKind::Renewed, Some(40)),
                of_kind("s", AlertKind::StatusChanged, Some(20)),
                of_kind("v", AlertKind::Vanished, None),
                failed.clone(),
                failed,
                of_kind("p", AlertKind::PollRecovered, None),
            ]),
            "1 changed status, 1 no longer reported, 1 renewed, cannot check 2 \
             accounts/projects, checking works again for 1 account/project"
        );
        assert_eq!(
            line(vec![of_kind("t", AlertKind::Test, Some(11))]),
            "1 test message"
        );
        assert_eq!(line(vec![]), "no alerts");
    }

    #[test]
    fn expiry_phrase_says_when_in_words_and_as_a_date() {
        let phrase = |days| expiry_phrase(&alert("p", days, Severity::Info));
        assert_eq!(phrase(Some(11)).unwrap(), "expires in 11 days (2026-12-07)");
        assert_eq!(phrase(Some(1)).unwrap(), "expires in 1 day (2026-11-27)");
        assert_eq!(phrase(Some(0)).unwrap(), "expires today (2026-11-26)");
        assert_eq!(phrase(Some(-1)).unwrap(), "expired 1 day ago (2026-11-25)");
        assert_eq!(phrase(Some(-3)).unwrap(), "expired 3 days ago (2026-11-23)");
        assert_eq!(phrase(None), None);
        assert_eq!(severity_word(Severity::Critical), "Critical");
        assert_eq!(severity_word(Severity::Warning), "Warning");
        assert_eq!(severity_word(Severity::Info), "Info");
    }

    #[test]
    fn accounts_are_named_or_counted() {
        let mut b = alert("q", Some(1), Severity::Critical);
        b.account = "test".into();
        let mut c = b.clone();
        c.account = "dev".into();
        let a = alert("p", Some(1), Severity::Critical);
        assert_eq!(accounts_label(std::slice::from_ref(&a)), "prod");
        assert_eq!(accounts_label(&[a.clone(), b.clone()]), "prod, test");
        assert_eq!(accounts_label(&[a, b, c]), "3 accounts");
    }
}
