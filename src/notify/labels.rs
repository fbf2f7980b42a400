//! An alert as Alertmanager sees it: its `alertname`, the labels that say which thing it is
//! about, and its annotations. Shared by the `alertmanager` webhook format (Alertmanager's
//! webhook shape) and the `alertmanager_api` receiver (Alertmanager's own API), so that both
//! name and describe the same alert the same way.

use super::{i18n, render};
use crate::model::{Alert, AlertKind, Locale};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;

/// Labels or annotations: Alertmanager's string-to-string maps.
pub(crate) type LabelSet = BTreeMap<String, String>;

/// A package's deadline (every package kind, and their resolutions).
pub(crate) const PACKAGE_ALERTNAME: &str = "CodeArtsPackageExpiry";
/// An account/project renewd cannot poll (`poll_failed`, `poll_recovered`).
pub(crate) const POLL_ALERTNAME: &str = "CodeArtsPollFailing";
/// `renewd test-notify`.
pub(crate) const TEST_ALERTNAME: &str = "RenewdTest";

pub(crate) fn alertname(alert: &Alert) -> &'static str {
    match alert.kind {
        AlertKind::PollFailed | AlertKind::PollRecovered => POLL_ALERTNAME,
        AlertKind::Test => TEST_ALERTNAME,
        _ => PACKAGE_ALERTNAME,
    }
}

/// The labels that say which thing an alert is about (not how bad it is now): `alertname`,
/// `account`, and `project_id`, `package`, `resource_id` where the alert has them.
pub(crate) fn identity(alert: &Alert) -> LabelSet {
    let mut labels = BTreeMap::new();
    labels.insert("alertname".into(), alertname(alert).into());
    labels.insert("account".into(), alert.account.clone());
    for (key, value) in [
        ("project_id", &alert.project_id),
        ("package", &alert.package),
        ("resource_id", &alert.resource_id),
    ] {
        if let Some(v) = value {
            labels.insert(key.into(), v.clone());
        }
    }
    labels
}

/// The identity labels plus `severity` and `kind`.
pub(crate) fn with_stage(alert: &Alert) -> LabelSet {
    let mut labels = identity(alert);
    labels.insert("severity".into(), alert.severity.as_str().into());
    labels.insert("kind".into(), alert.kind.as_str().into());
    labels
}

/// `summary`, `description`, `alert_id`, and where the alert has them `renew_url` (https
/// only), `remain_days`, `expiry_date`, `threshold`, `package_status`, `error`. The texts
/// people read (`summary`, `description`, `package_status`) are in `locale`: in English,
/// `summary` is the rules' own.
pub(crate) fn annotations(alert: &Alert, locale: Locale) -> LabelSet {
    let mut a = BTreeMap::new();
    a.insert(
        "summary".into(),
        render::single_line(&render::message(alert, locale)),
    );
    a.insert("description".into(), description(alert, locale));
    a.insert("alert_id".into(), alert.id.clone());
    if let Some(link) = render::safe_link(alert) {
        a.insert("renew_url".into(), link.to_string());
    }
    if let Some(days) = alert.remain_days {
        a.insert("remain_days".into(), days.to_string());
        a.insert("expiry_date".into(), render::expiry_label(alert));
    }
    if let Some(t) = alert.threshold {
        a.insert("threshold".into(), t.to_string());
    }
    if alert.package_status.is_some() || alert.package_status_name.is_some() {
        a.insert("package_status".into(), render::status_label(alert, locale));
    }
    if let Some(e) = &alert.error {
        a.insert("error".into(), render::single_line(&e.error_msg));
    }
    a
}

fn description(alert: &Alert, locale: Locale) -> String {
    let fill = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| i18n::fill(locale, key, args);
    let mut parts = vec![fill(
        "description.about",
        &[
            ("name", &render::subject_name(alert, locale)),
            ("account", &alert.account),
            ("project", &render::project_label(alert, locale)),
        ],
    )];
    if alert.remain_days.is_some() {
        parts.push(fill(
            "description.left",
            &[
                ("remaining", &render::remaining_label(alert, locale)),
                ("date", &render::expiry_label(alert)),
            ],
        ));
    }
    if alert.package_status.is_some() {
        parts.push(fill(
            "description.status",
            &[("status", &render::status_label(alert, locale))],
        ));
    }
    match (&alert.next_action_url, render::safe_link(alert)) {
        (_, Some(link)) => parts.push(fill("description.renew_at", &[("link", &link)])),
        (Some(url), None) => parts.push(fill(
            "description.insecure",
            &[("url", &render::single_line(url))],
        )),
        (None, None) => {}
    }
    render::single_line(&parts.join(i18n::text(locale, "headline_separator")))
}

/// An instant as Alertmanager writes it: RFC 3339 UTC, whole seconds.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
