//! What alerts say in words: subjects, headlines, each alert's message, the names of items
//! and scopes, poll errors and silence notes, in the receiver's locale.

use super::*;

/// Longest subject line before it is cut.
pub(crate) const MAX_SUBJECT_CHARS: usize = 200;

/// What starts every subject line.
pub(super) const SUBJECT_TAG: &str = "[renewd] ";

/// The subject: what happened at a glance, e.g. `[renewd] 2 CodeArts packages expire within
/// 14 days (prod)` or `[renewd] 1 expired, 2 expiring CodeArts packages (prod)`.
pub(crate) fn subject(digest: &Digest) -> String {
    format!("{SUBJECT_TAG}{}", what_happened(digest))
}

/// The subject's words after its `[renewd] ` tag, e.g. `2 CodeArts packages expire within 14
/// days (prod)`: one line, cut so that the whole subject fits [`MAX_SUBJECT_CHARS`]. In the
/// digest's locale.
pub(crate) fn what_happened(digest: &Digest) -> String {
    let locale = digest.locale;
    let alerts = &digest.alerts;
    if alerts.is_empty() {
        return i18n::text(locale, "no_alerts").into();
    }
    if alerts.iter().all(|a| a.kind == AlertKind::Test) {
        return i18n::text(locale, "test_message").into();
    }
    let headline = if alerts.len() == 1 {
        single_headline(&alerts[0], locale)
    } else {
        counted_headline(alerts, locale)
    };
    let accounts = accounts_label(alerts, locale);
    let line = if accounts.is_empty() {
        headline
    } else {
        i18n::fill(
            locale,
            "with_accounts",
            &[("headline", &headline), ("accounts", &accounts)],
        )
    };
    truncate(
        &single_line(&line),
        MAX_SUBJECT_CHARS - SUBJECT_TAG.chars().count(),
    )
}

/// The name of what an alert is about, as people know it: a CodeArts package by its key
/// (`codeartsStorageExtension`), a billing resource by its service, name, spec and region
/// (``ECS `web-01` (c7.large.2.linux, cn-north-4)``, see [`resource_name`]).
pub(crate) fn package_name(alert: &Alert, locale: Locale) -> String {
    if let Some(name) = resource_name(alert, locale) {
        return name;
    }
    match alert.package.as_deref() {
        Some(p) => p.to_string(),
        None => i18n::text(locale, "package_fallback").to_string(),
    }
}

/// [`package_name`] with what kind of thing it is, for headlines: `CodeArts package
/// codeartsStorageExtension`; a billing resource's name already says it.
pub(crate) fn item_name(alert: &Alert, locale: Locale) -> String {
    let name = package_name(alert, locale);
    if alert.source == SourceKind::Subscriptions && alert.package.is_some() {
        return name;
    }
    i18n::fill(locale, "item.package", &[("package", &name)])
}

/// A billing resource of a subscriptions alert as people know it: its service (short name
/// when renewd knows one, else the service or resource type the API named, else the resource
/// type code), its name (else its id), and in brackets its spec and region, each when known.
/// `None` for anything else (CodeArts packages, alerts about an account).
pub(super) fn resource_name(alert: &Alert, locale: Locale) -> Option<String> {
    if alert.source != SourceKind::Subscriptions {
        return None;
    }
    let facts = &alert.resource;
    let key = alert.package.as_deref()?;
    let service = service_short_name(alert.service_type.as_deref(), key)
        .or(facts.service_type_name.as_deref())
        .or(facts.resource_type_name.as_deref())
        .unwrap_or(key);
    let resource = match facts
        .resource_name
        .as_deref()
        .or(alert.resource_id.as_deref())
    {
        Some(name) => i18n::fill(
            locale,
            "item.resource",
            &[("service", &service), ("name", &name)],
        ),
        None => service.to_string(),
    };
    let details: Vec<&str> = [&facts.resource_spec_code, &facts.region]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    if details.is_empty() {
        return Some(resource);
    }
    Some(i18n::fill(
        locale,
        "item.resource_details",
        &[
            ("resource", &resource),
            (
                "details",
                &details.join(i18n::text(locale, "part_separator")),
            ),
        ],
    ))
}

/// The short name Huawei Cloud's console gives a service, for the billing service type codes
/// (and resource type codes) whose short name is certain; `None` for the rest, which are
/// shown by the name the API gives them.
pub(super) fn service_short_name(
    service_type: Option<&str>,
    resource_type: &str,
) -> Option<&'static str> {
    match (service_type?, resource_type) {
        (_, "hws.resource.type.ip") => Some("EIP"),
        ("hws.service.type.ec2", _) => Some("ECS"),
        ("hws.service.type.rds", _) => Some("RDS"),
        ("hws.service.type.ebs", _) => Some("EVS"),
        _ => None,
    }
}

pub(crate) fn scope_name(alert: &Alert) -> String {
    match &alert.project_id {
        Some(p) => format!("{}/{p}", alert.account),
        None => alert.account.clone(),
    }
}

/// Headline of a digest with one alert: names the package.
pub(crate) fn single_headline(alert: &Alert, locale: Locale) -> String {
    let package = package_name(alert, locale);
    let item = item_name(alert, locale);
    let fill = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| {
        let mut all: Vec<(&str, &dyn std::fmt::Display)> =
            vec![("package", &package), ("item", &item)];
        all.extend_from_slice(args);
        i18n::fill(locale, key, &all)
    };
    let text = match alert.kind {
        AlertKind::Expiring => match alert.remain_days {
            Some(0) => fill("headline.expires_today", &[]),
            Some(n) => fill("headline.expires_in", &[("days", &i18n::days(locale, n))]),
            None => fill("headline.expires_soon", &[]),
        },
        AlertKind::Expired => fill(
            "headline.expired",
            &[("status", &status_label(alert, locale))],
        ),
        AlertKind::Renewed => fill(
            "headline.renewed",
            &[("remaining", &remaining_label(alert, locale))],
        ),
        AlertKind::StatusChanged => fill(
            "headline.status_changed",
            &[("status", &status_label(alert, locale))],
        ),
        AlertKind::Vanished => fill("headline.vanished", &[]),
        AlertKind::PollFailed | AlertKind::PollRecovered => {
            let key = match alert.source {
                SourceKind::Packages => format!("headline.{}", alert.kind),
                SourceKind::Subscriptions => format!("headline.{}_subscriptions", alert.kind),
            };
            fill(&key, &[("scope", &scope_name(alert))])
        }
        AlertKind::Test => i18n::text(locale, "test_message").into(),
        AlertKind::ProjectRemoved => {
            fill("headline.project_removed", &[("scope", &scope_name(alert))])
        }
        AlertKind::AutoRenewFailed => fill("headline.auto_renew_failed", &[]),
        AlertKind::AutoRenewAtRisk => fill(
            "headline.auto_renew_at_risk",
            &[("account", &alert.account)],
        ),
    };
    if alert.reminder {
        i18n::fill(locale, "reminder_prefix", &[("text", &text)])
    } else {
        text
    }
}

/// What an alert says, in `locale`: in English the rules' own `summary` (renewd's wire text,
/// kept as decided); in another language built from the alert's fields, so that nothing is
/// translated from English text. An English alert without a summary is worded the same way.
///
/// An alert about a billing resource is worded from its fields in English too: the rules'
/// summary names it by its resource type code, people know it by its name.
pub(crate) fn message(alert: &Alert, locale: Locale) -> String {
    let named_by_key = alert.source.is_packages() || alert.package.is_none();
    if locale == Locale::En && !alert.summary.is_empty() && named_by_key {
        return alert.summary.clone();
    }
    let package = package_name(alert, locale);
    let fill = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| {
        let mut all: Vec<(&str, &dyn std::fmt::Display)> = vec![("package", &package)];
        all.extend_from_slice(args);
        i18n::fill(locale, key, &all)
    };
    let days = |n: i64| i18n::days(locale, n);
    let text = match alert.kind {
        AlertKind::Expiring => match alert.remain_days {
            Some(0) => fill("message.expiring_today", &[]),
            Some(n) => fill("message.expiring_in", &[("days", &days(n))]),
            None => fill("message.expiring_soon", &[]),
        },
        AlertKind::Expired => {
            let phase = alert
                .package_status
                .and_then(|code| alert.source.expired_phase(code))
                .and_then(|phase| {
                    let key = format!("phase.{}", phase.replace(' ', "_"));
                    i18n::has(&key).then(|| i18n::text(locale, &key))
                });
            match (phase, alert.remain_days) {
                (Some(phase), _) => fill("message.expired_phase", &[("phase", &phase)]),
                (None, Some(d)) if d < 0 => fill("message.expired_ago", &[("days", &days(-d))]),
                (None, _) => fill("message.expired_today", &[]),
            }
        }
        AlertKind::Renewed => fill(
            "message.renewed",
            &[("days", &remaining_label(alert, locale))],
        ),
        AlertKind::StatusChanged => match previous_status_label(alert, locale) {
            Some(previous) => fill(
                "message.status_changed",
                &[
                    ("previous", &previous),
                    ("status", &status_label(alert, locale)),
                ],
            ),
            None => fill(
                "message.status_now",
                &[("status", &status_label(alert, locale))],
            ),
        },
        AlertKind::Vanished => fill("message.vanished", &[]),
        AlertKind::PollFailed => fill(
            "message.poll_failed",
            &[
                ("scope", &scope_name(alert)),
                (
                    "error",
                    &poll_error_text(alert, locale).unwrap_or_else(|| "-".into()),
                ),
            ],
        ),
        AlertKind::PollRecovered => {
            fill("message.poll_recovered", &[("scope", &scope_name(alert))])
        }
        AlertKind::Test => fill("message.test", &[("days", &remaining_label(alert, locale))]),
        AlertKind::ProjectRemoved => {
            fill("message.project_removed", &[("scope", &scope_name(alert))])
        }
        AlertKind::AutoRenewFailed => fill("message.auto_renew_failed", &[]),
        AlertKind::AutoRenewAtRisk => {
            fill("message.auto_renew_at_risk", &[("account", &alert.account)])
        }
    };
    if alert.reminder {
        i18n::fill(locale, "message.reminder", &[("text", &text)])
    } else {
        text
    }
}

/// What a failed poll reported, on one line: `HTTP 401 APIG.0301 message (request id …); 3
/// failed polls in a row`.
pub(crate) fn poll_error_text(alert: &Alert, locale: Locale) -> Option<String> {
    let e = alert.error.as_ref()?;
    let mut text = String::new();
    if let Some(status) = e.http_status {
        text.push_str(&format!("HTTP {status} "));
    }
    if let Some(code) = &e.error_code {
        text.push_str(&format!("{code} "));
    }
    text.push_str(&e.error_msg);
    if let Some(id) = &e.request_id {
        text.push_str(&i18n::fill(locale, "poll_error.request_id", &[("id", id)]));
    }
    if e.consecutive_failures > 0 {
        let count = i18n::count(
            locale,
            "poll_error.failed_polls",
            e.consecutive_failures as usize,
            &[],
        );
        text.push_str(&i18n::fill(
            locale,
            "poll_error.in_a_row",
            &[("count", &count)],
        ));
    }
    Some(single_line(&text))
}

/// The heading of the silences a digest mentions, in its locale.
pub(crate) fn silences_heading(locale: Locale) -> &'static str {
    i18n::text(locale, "silence.heading")
}

/// One line per silence ending within a day (`Digest::silences_ending`), in the digest's
/// locale and time zone: `#3 account=prod until 2026-11-26 18:00 CST, by alice: migration`.
pub(crate) fn silence_lines(digest: &Digest) -> Vec<String> {
    let locale = digest.locale;
    digest
        .silences_ending
        .iter()
        .map(|s| {
            let matchers = if s.matchers == crate::model::SilenceMatchers::default() {
                i18n::text(locale, "silence.everything").to_string()
            } else {
                s.matchers.to_string()
            };
            single_line(&i18n::fill(
                locale,
                "silence.line",
                &[
                    ("id", &s.id),
                    ("matchers", &matchers),
                    ("end", &local_time(s.ends_at, digest.timezone)),
                    ("by", &s.created_by),
                    ("reason", &s.reason),
                ],
            ))
        })
        .collect()
}

/// What the alerts of a digest about accounts and projects say, counted, in this order:
/// `cannot check 2 accounts/projects`, `checking works again for 1 account/project`, projects
/// removed, auto-renewals at risk.
pub(super) fn poll_parts(alerts: &[Alert], locale: Locale) -> Vec<String> {
    [
        (AlertKind::PollFailed, "summary.cannot_check"),
        (AlertKind::PollRecovered, "summary.works_again"),
        (AlertKind::ProjectRemoved, "summary.projects_removed"),
        (AlertKind::AutoRenewAtRisk, "summary.auto_renew_at_risk"),
    ]
    .into_iter()
    .filter_map(|(kind, key)| {
        let n = alerts.iter().filter(|a| a.kind == kind).count();
        (n > 0).then(|| i18n::count(locale, key, n, &[]))
    })
    .collect()
}

/// Headline of a digest with several alerts: counts by kind, most urgent kind first.
pub(crate) fn counted_headline(alerts: &[Alert], locale: Locale) -> String {
    let count = |kind: AlertKind| alerts.iter().filter(|a| a.kind == kind).count();
    let package_kinds = [
        (AlertKind::AutoRenewFailed, "auto-renew-failed"),
        (AlertKind::Expired, "expired"),
        (AlertKind::Expiring, "expiring"),
        (AlertKind::StatusChanged, "status_changed"),
        (AlertKind::Vanished, "vanished"),
        (AlertKind::Renewed, "renewed"),
        (AlertKind::Test, "test"),
    ];
    let present: Vec<(AlertKind, &str, usize)> = package_kinds
        .iter()
        .map(|(k, word)| {
            (
                *k,
                i18n::text(locale, &format!("headline.kind.{word}")),
                count(*k),
            )
        })
        .filter(|(_, _, n)| *n > 0)
        .collect();
    let packages: usize = present.iter().map(|(_, _, n)| n).sum();
    // What the counted alerts are about: CodeArts packages, subscriptions or both.
    let sources: BTreeSet<SourceKind> = alerts
        .iter()
        .filter(|a| package_kinds.iter().any(|(k, _)| *k == a.kind))
        .map(|a| a.source)
        .collect();
    let things = match sources.into_iter().collect::<Vec<_>>().as_slice() {
        [SourceKind::Subscriptions] => "subscriptions",
        [_, _] => "items",
        _ => "packages",
    };
    let key = |what: &str| format!("headline.{things}_{what}");

    let mut parts = Vec::new();
    match present.as_slice() {
        [] => {}
        [(AlertKind::Expiring, _, n)] => {
            let within = alerts
                .iter()
                .filter(|a| a.kind == AlertKind::Expiring)
                .filter_map(|a| a.threshold.or(a.remain_days))
                .max();
            parts.push(match within {
                Some(days) => i18n::count(
                    locale,
                    &key("expire_within"),
                    *n,
                    &[("days", &i18n::days(locale, days.max(0)))],
                ),
                None => i18n::count(locale, &key("expire_soon"), *n, &[]),
            });
        }
        [(_, word, n)] => parts.push(i18n::count(locale, &key("word"), *n, &[("word", word)])),
        several => {
            let counts: Vec<String> = several
                .iter()
                .map(|(_, word, n)| {
                    i18n::fill(locale, "headline.kind_count", &[("n", n), ("kind", word)])
                })
                .collect();
            parts.push(i18n::fill(
                locale,
                "headline.kind_counts",
                &[
                    ("counts", &counts.join(i18n::text(locale, "part_separator"))),
                    (
                        "packages",
                        &i18n::count(locale, &key("noun"), packages, &[]),
                    ),
                ],
            ));
        }
    }
    parts.extend(poll_parts(alerts, locale));
    parts.join(i18n::text(locale, "headline_separator"))
}
