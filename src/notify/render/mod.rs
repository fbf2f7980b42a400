//! The wording shared by every receiver: ordering, dates, labels, headline, plurals, escaping
//! and safe links. Pure functions over [`Alert`]s, so each message format renders the same
//! facts the same way; receivers use this module, never one another.

use super::i18n::{self, Locale};
use super::Digest;
use crate::model::{Alert, AlertKind, Severity, SourceKind};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;

mod messages;
pub(crate) use messages::*;

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

/// The last day of the item, in GMT+08:00 (Huawei's billing day). A billing resource's is its
/// `expire_time`'s day there, as the billing API said it ([`expiry_is_exact`]). A CodeArts
/// package's is estimated: the day on which the remaining days were read, plus those days;
/// counted from the poll, not from when the message goes out, so a message retried days later
/// still names the same day.
pub(crate) fn estimated_expiry(alert: &Alert) -> Option<NaiveDate> {
    if let Some(expire_time) = alert.resource.expire_time {
        return crate::model::billing_day(expire_time);
    }
    crate::model::billing_last_day(alert.raised_at, alert.remain_days?)
}

/// Whether [`estimated_expiry`] is the source's own date rather than an estimate.
pub(crate) fn expiry_is_exact(alert: &Alert) -> bool {
    alert.resource.expire_time.is_some()
}

/// What the footer of a message says about its dates: that CodeArts packages' are estimated
/// (the catalogue's `label.footer`, as always), that billing resources' are the billing
/// API's own, or both.
pub(crate) fn expiry_note(alerts: &[Alert], locale: Locale) -> String {
    let any_exact = alerts.iter().any(expiry_is_exact);
    let all_exact = any_exact && alerts.iter().all(expiry_is_exact);
    let mut notes = Vec::new();
    if !all_exact {
        notes.push(i18n::text(locale, "label.footer"));
    }
    if any_exact {
        notes.push(i18n::text(locale, "label.footer_exact"));
    }
    notes.join(" ")
}

/// [`estimated_expiry`] as `YYYY-MM-DD`, or `-` when the alert has no remaining days.
pub(crate) fn expiry_label(alert: &Alert) -> String {
    estimated_expiry(alert)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Status name and raw number, e.g. `active (2)` (`宽限期（5）` in zh-CN); an unknown number is
/// shown, never dropped.
pub(crate) fn status_label(alert: &Alert, locale: Locale) -> String {
    let name = match (alert.package_status_name.as_deref(), alert.package_status) {
        (Some(name), _) => name,
        (None, Some(n)) => alert.source.status_name(Some(n)),
        (None, None) => return "-".into(),
    };
    match alert.package_status {
        Some(code) => i18n::fill(
            locale,
            "status.with_code",
            &[("name", &status_name(name, locale)), ("code", &code)],
        ),
        None => status_name(name, locale),
    }
}

/// A status name (`grace`, `in_use`, …) in `locale`; one the catalogue does not know is shown
/// as it is.
pub(crate) fn status_name(name: &str, locale: Locale) -> String {
    let key = format!("status.{name}");
    if name.contains('.') || !i18n::has(&key) {
        return name.to_string();
    }
    i18n::text(locale, &key).to_string()
}

/// The status an alert had before a change, e.g. `active (2)`.
pub(crate) fn previous_status_label(alert: &Alert, locale: Locale) -> Option<String> {
    let code = alert.previous_status?;
    Some(i18n::fill(
        locale,
        "status.with_code",
        &[
            (
                "name",
                &status_name(alert.source.status_name(Some(code)), locale),
            ),
            ("code", &code),
        ],
    ))
}

/// The project id, or `(account)` when the account was asked as a whole.
pub(crate) fn project_label(alert: &Alert, locale: Locale) -> &str {
    match alert.project_id.as_deref() {
        Some(p) => p,
        None => i18n::text(locale, "whole_account"),
    }
}

/// Remaining days for people: `11 days`, `1 day`, `0 days`, `-`.
pub(crate) fn remaining_label(alert: &Alert, locale: Locale) -> String {
    match alert.remain_days {
        Some(n) => i18n::days(locale, n),
        None => "-".into(),
    }
}

/// A short label of the alert's kind and severity, e.g. `WARNING expiring`.
pub(crate) fn kind_label(alert: &Alert, locale: Locale) -> String {
    i18n::fill(
        locale,
        "kind.label",
        &[
            (
                "severity",
                &i18n::text(locale, &format!("severity_tag.{}", alert.severity.as_str())),
            ),
            ("kind", &kind_name(alert, locale)),
        ],
    )
}

/// The alert's kind in words, e.g. `expiring`, `status changed`, `expiring (reminder)`.
pub(crate) fn kind_name(alert: &Alert, locale: Locale) -> String {
    let kind = i18n::text(locale, &format!("kind.{}", alert.kind.as_str()));
    if alert.reminder {
        i18n::fill(locale, "kind.reminder", &[("kind", &kind)])
    } else {
        kind.to_string()
    }
}

/// The severity as a word for people, shown next to its colour (never colour alone):
/// `Critical`, `Warning`, `Info` (`严重`, `警告`, `提示`).
pub fn severity_word(severity: Severity, locale: Locale) -> &'static str {
    i18n::text(locale, &format!("severity.{}", severity.as_str()))
}

/// When the package expires, in words and as the estimated date: `expires in 11 days
/// (2026-12-07)`, `expires in 1 day (…)`, `expires today (…)`, `expired 2 days ago (…)`
/// (`6 天后到期（2026-12-13）`); none when the alert has no remaining days.
pub fn expiry_phrase(alert: &Alert, locale: Locale) -> Option<String> {
    let days = alert.remain_days?;
    let date = expiry_label(alert);
    let key = match days {
        0 => "expiry.today",
        d if d > 0 => "expiry.in",
        _ => "expiry.ago",
    };
    Some(i18n::fill(
        locale,
        key,
        &[("days", &i18n::days(locale, days.abs())), ("date", &date)],
    ))
}

/// The digest's summary line: how many alerts of each kind, most urgent kind first, joined
/// by `, ` — e.g. `1 expired, 2 expire within 7 days` (`1 项已到期，2 项将在 7 天内到期`). The
/// parts, each present only when counted at least once:
/// - `N expired`;
/// - `N expire within D days`, D being the most remaining days among the expiring packages
///   (so every one of them expires within it; `N expire today` when D is 0, `N expire soon`
///   when none says how many days);
/// - `N changed status`, `N no longer reported`, `N renewed`;
/// - `cannot check N accounts/projects`, `checking works again for N accounts/projects`;
/// - `N test messages`.
///
/// A verb agrees with its count (`1 expires`, `2 expire`). An empty digest says `no alerts`.
pub fn summary_line(alerts: &[Alert], locale: Locale) -> String {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let mut parts = Vec::new();
    let expired = count(AlertKind::Expired);
    if expired > 0 {
        parts.push(i18n::fill(locale, "summary.expired", &[("n", &expired)]));
    }
    let expiring = count(AlertKind::Expiring);
    if expiring > 0 {
        let most = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Expiring)
            .filter_map(|a| a.remain_days)
            .max();
        parts.push(match most {
            Some(d) if d <= 0 => i18n::count(locale, "summary.expire_today", expiring, &[]),
            Some(d) => i18n::count(
                locale,
                "summary.expire_within",
                expiring,
                &[("days", &i18n::days(locale, d))],
            ),
            None => i18n::count(locale, "summary.expire_soon", expiring, &[]),
        });
    }
    for (kind, key) in [
        (AlertKind::StatusChanged, "summary.changed"),
        (AlertKind::Vanished, "summary.vanished"),
        (AlertKind::Renewed, "summary.renewed"),
    ] {
        let n = count(kind);
        if n > 0 {
            parts.push(i18n::fill(locale, key, &[("n", &n)]));
        }
    }
    parts.extend(poll_parts(alerts, locale));
    let tests = count(AlertKind::Test);
    if tests > 0 {
        parts.push(i18n::count(locale, "summary.tests", tests, &[]));
    }
    if parts.is_empty() {
        return i18n::text(locale, "no_alerts").into();
    }
    parts.join(i18n::text(locale, "part_separator"))
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

/// The name of what an alert is about: the package ([`package_name`]), or the
/// account/project.
pub(crate) fn subject_name(alert: &Alert, locale: Locale) -> String {
    match (&alert.package, alert.kind) {
        (Some(_), _) => package_name(alert, locale),
        (None, AlertKind::PollFailed | AlertKind::PollRecovered | AlertKind::ProjectRemoved) => {
            format!("{}/{}", alert.account, project_label(alert, locale))
        }
        (None, _) => alert.account.clone(),
    }
}

/// The accounts of the alerts, for a subject line: `prod`, `prod, test` or `3 accounts`.
pub(crate) fn accounts_label(alerts: &[Alert], locale: Locale) -> String {
    let accounts: BTreeSet<&str> = alerts.iter().map(|a| a.account.as_str()).collect();
    match accounts.len() {
        0 => String::new(),
        1 | 2 => accounts
            .into_iter()
            .collect::<Vec<_>>()
            .join(i18n::text(locale, "list_separator")),
        n => i18n::count(locale, "accounts", n, &[]),
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
        Digest::new("ops", alerts, sent_at(), chrono_tz::Asia::Shanghai)
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
            resource: Default::default(),
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

    /// An ECS server of the billing API, expiring in 6 days.
    pub(crate) fn subscription(days: i64) -> Alert {
        let mut a = alert("hws.resource.type.vm", Some(days), Severity::Warning);
        a.source = crate::model::SourceKind::Subscriptions;
        a.service_type = Some("hws.service.type.ec2".into());
        a.package_status_name = Some("in_use".into());
        a.resource = crate::model::ResourceFacts {
            resource_name: Some("web-01".into()),
            service_type_name: Some("Elastic Cloud Server".into()),
            resource_type_name: Some("Cloud Server".into()),
            resource_spec_code: Some("c7.large.2.linux".into()),
            region: Some("cn-north-4".into()),
            expire_time: None,
            auto_renew: Some(false),
        };
        a.summary = "hws.resource.type.vm expires in 6 days".into();
        a
    }

    #[test]
    fn a_subscription_is_named_by_its_service_name_spec_and_region() {
        let a = subscription(6);
        type Wording = fn(&Alert, Locale) -> String;
        let cases: [(Wording, Locale, &str); 5] = [
            (
                package_name,
                Locale::En,
                "ECS `web-01` (c7.large.2.linux, cn-north-4)",
            ),
            (
                package_name,
                Locale::ZhCn,
                "ECS「web-01」（c7.large.2.linux，cn-north-4）",
            ),
            // The name is the headline's subject, not a "CodeArts package".
            (
                single_headline,
                Locale::En,
                "ECS `web-01` (c7.large.2.linux, cn-north-4) expires in 6 days",
            ),
            (
                single_headline,
                Locale::ZhCn,
                "ECS「web-01」（c7.large.2.linux，cn-north-4） 将在 6 天后到期",
            ),
            // In English too the message names it, not the rules' summary with its type code.
            (
                message,
                Locale::En,
                "ECS `web-01` (c7.large.2.linux, cn-north-4) expires in 6 days",
            ),
        ];
        for (wording, locale, expected) in cases {
            assert_eq!(wording(&a, locale), expected, "{locale}");
        }
        assert_eq!(subject_name(&a, Locale::En), package_name(&a, Locale::En));
        // A CodeArts package keeps its key and its wording.
        let p = alert("codeartsStorageExtension", Some(6), Severity::Warning);
        assert_eq!(package_name(&p, Locale::En), "codeartsStorageExtension");
        assert_eq!(
            single_headline(&p, Locale::En),
            "CodeArts package codeartsStorageExtension expires in 6 days"
        );
        assert_eq!(message(&p, Locale::En), "codeartsStorageExtension expires");
    }

    #[test]
    fn counted_headlines_say_what_the_alerts_are_about() {
        let two = vec![subscription(6), subscription(3)];
        assert_eq!(
            counted_headline(&two, Locale::En),
            "2 subscriptions expire within 14 days"
        );
        assert_eq!(
            counted_headline(&two, Locale::ZhCn),
            "2 个包年/包月资源将在 14 天内到期"
        );
        let mixed = vec![subscription(6), alert("p", Some(6), Severity::Warning)];
        assert_eq!(
            counted_headline(&mixed, Locale::En),
            "2 CodeArts packages and subscriptions expire within 14 days"
        );
        let mut expired = subscription(-1);
        expired.kind = AlertKind::Expired;
        assert_eq!(
            counted_headline(&[expired, subscription(6)], Locale::En),
            "1 expired, 1 expiring subscriptions"
        );
    }

    #[test]
    fn a_failed_poll_of_subscriptions_says_so() {
        let mut poll = subscription(6);
        poll.kind = AlertKind::PollFailed;
        poll.package = None;
        assert_eq!(
            single_headline(&poll, Locale::En),
            "cannot check the subscriptions of prod"
        );
        poll.kind = AlertKind::PollRecovered;
        assert_eq!(
            single_headline(&poll, Locale::ZhCn),
            "prod 的包年/包月资源已恢复查询"
        );
        poll.source = SourceKind::Packages;
        assert_eq!(
            single_headline(&poll, Locale::En),
            "checking the CodeArts packages of prod works again"
        );
    }

    #[test]
    fn a_subscription_missing_facts_is_still_named() {
        let mut a = subscription(6);
        // An unknown service: the name the API gives it.
        a.service_type = Some("hws.service.type.dcs".into());
        a.resource.region = None;
        assert_eq!(
            package_name(&a, Locale::En),
            "Elastic Cloud Server `web-01` (c7.large.2.linux)"
        );
        a.resource.service_type_name = None;
        a.resource.resource_spec_code = None;
        assert_eq!(package_name(&a, Locale::En), "Cloud Server `web-01`");
        // No name: the resource id; no type names: the resource type code.
        a.resource.resource_type_name = None;
        a.resource.resource_name = None;
        assert_eq!(package_name(&a, Locale::En), "hws.resource.type.vm `r`");
        a.resource_id = None;
        assert_eq!(package_name(&a, Locale::En), "hws.resource.type.vm");
        // An EIP is named by its resource type.
        let mut eip = subscription(6);
        eip.package = Some("hws.resource.type.ip".into());
        eip.service_type = Some("hws.service.type.vpc".into());
        eip.resource.resource_spec_code = None;
        assert_eq!(package_name(&eip, Locale::En), "EIP `web-01` (cn-north-4)");
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
        assert_eq!(remaining_label(&a, Locale::En), "1 day");
        assert_eq!(status_label(&a, Locale::En), "active (2)");
        a.package_status_name = None;
        a.package_status = Some(42);
        assert_eq!(status_label(&a, Locale::En), "unknown (42)");
        assert_eq!(project_label(&a, Locale::En), "(account)");
        assert_eq!(kind_label(&a, Locale::En), "CRITICAL expiring");
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
        let line = |alerts: Vec<Alert>| summary_line(&alerts, Locale::En);
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
        let phrase = |days| expiry_phrase(&alert("p", days, Severity::Info), Locale::En);
        assert_eq!(phrase(Some(11)).unwrap(), "expires in 11 days (2026-12-07)");
        assert_eq!(phrase(Some(1)).unwrap(), "expires in 1 day (2026-11-27)");
        assert_eq!(phrase(Some(0)).unwrap(), "expires today (2026-11-26)");
        assert_eq!(phrase(Some(-1)).unwrap(), "expired 1 day ago (2026-11-25)");
        assert_eq!(phrase(Some(-3)).unwrap(), "expired 3 days ago (2026-11-23)");
        assert_eq!(phrase(None), None);
        assert_eq!(severity_word(Severity::Critical, Locale::En), "Critical");
        assert_eq!(severity_word(Severity::Warning, Locale::En), "Warning");
        assert_eq!(severity_word(Severity::Info, Locale::En), "Info");
    }

    #[test]
    fn accounts_are_named_or_counted() {
        let mut b = alert("q", Some(1), Severity::Critical);
        b.account = "test".into();
        let mut c = b.clone();
        c.account = "dev".into();
        let a = alert("p", Some(1), Severity::Critical);
        assert_eq!(accounts_label(std::slice::from_ref(&a), Locale::En), "prod");
        assert_eq!(
            accounts_label(&[a.clone(), b.clone()], Locale::En),
            "prod, test"
        );
        assert_eq!(accounts_label(&[a, b, c], Locale::En), "3 accounts");
    }

    /// Every kind, listed by a match that stops compiling when a kind is added unlisted.
    fn every_kind() -> Vec<AlertKind> {
        let all = vec![
            AlertKind::Expiring,
            AlertKind::Expired,
            AlertKind::Renewed,
            AlertKind::StatusChanged,
            AlertKind::Vanished,
            AlertKind::PollFailed,
            AlertKind::PollRecovered,
            AlertKind::Test,
            AlertKind::AutoRenewFailed,
            AlertKind::AutoRenewAtRisk,
            AlertKind::ProjectRemoved,
        ];
        for kind in &all {
            match kind {
                AlertKind::Expiring
                | AlertKind::Expired
                | AlertKind::Renewed
                | AlertKind::StatusChanged
                | AlertKind::Vanished
                | AlertKind::PollFailed
                | AlertKind::PollRecovered
                | AlertKind::Test
                | AlertKind::AutoRenewFailed
                | AlertKind::AutoRenewAtRisk
                | AlertKind::ProjectRemoved => {}
            }
        }
        all
    }

    #[test]
    fn every_kind_is_worded_in_every_locale() {
        for locale in [Locale::En, Locale::ZhCn] {
            for kind in every_kind() {
                let mut a = alert("codeartsStorageExtension", Some(3), Severity::Warning);
                a.kind = kind;
                a.summary = String::new();
                let texts = [
                    kind_name(&a, locale),
                    single_headline(&a, locale),
                    message(&a, locale),
                    summary_line(std::slice::from_ref(&a), locale),
                    counted_headline(&[a.clone(), a.clone()], locale),
                ];
                for text in texts {
                    assert!(!text.trim().is_empty(), "{kind:?} in {locale:?}");
                    for prefix in ["kind.", "headline.", "message.", "summary."] {
                        assert!(
                            !text.contains(prefix),
                            "{kind:?} in {locale:?}: a message key shows: {text}"
                        );
                    }
                }
            }
        }
    }
}
