//! `format = "alertmanager"`: the body of Alertmanager's webhook receiver (version 4), so that
//! anything that already consumes Alertmanager notifications accepts renewd's as they are.
//!
//! Shape (Prometheus docs, "Configuration → webhook_config"): `version` "4", `groupKey`,
//! `truncatedAlerts`, `status` (`firing` | `resolved`), `receiver`, `groupLabels`,
//! `commonLabels`, `commonAnnotations`, `externalURL`, and `alerts[]` with `status`, `labels`,
//! `annotations` (string values only), `startsAt`, `endsAt`, `generatorURL`, `fingerprint`.
//!
//! Decisions:
//! - `renewed` and `poll_recovered` are `resolved`; every other kind is `firing`.
//! - A firing alert's `endsAt` is Go's zero time `0001-01-01T00:00:00Z`, as Alertmanager sends
//!   it; a resolved one ends when it was decided.
//! - `generatorURL` is the renewal link when it is `https://`, else empty (never a non-https
//!   link); the raw value of a non-https link is kept as text in the `description` annotation.
//! - `fingerprint` (16 hex characters, like Alertmanager's) hashes the alert's identity
//!   (alertname, account, project, package, resource) and not its stage, severity or rule, so
//!   the `resolved` alert of a renewal carries the fingerprint of the `firing` ones before it,
//!   whichever rule raised them (a status change is raised once for all matching rules).

use super::format::{ReceiverSetup, RenderedRequest, WebhookFormat};
use crate::model::Alert;
use crate::notify::labels::{annotations, identity, time, with_stage};
use crate::notify::{render, Digest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Go's zero `time.Time`, which Alertmanager sends as `endsAt` of a firing alert.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(crate) struct Alertmanager;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    version: &'static str,
    group_key: String,
    truncated_alerts: u64,
    status: &'static str,
    receiver: &'a str,
    group_labels: BTreeMap<String, String>,
    common_labels: BTreeMap<String, String>,
    common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    external_url: &'static str,
    alerts: Vec<AmAlert>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    status: &'static str,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: String,
    fingerprint: String,
}

fn status_of(alert: &Alert) -> &'static str {
    if alert.kind.is_resolution() {
        "resolved"
    } else {
        "firing"
    }
}

/// 16 hex characters of SHA-256 over the identity labels, in key order.
pub(crate) fn fingerprint(alert: &Alert) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    for (key, value) in identity(alert) {
        hasher.update(key.as_bytes());
        hasher.update([0xff]);
        hasher.update(value.as_bytes());
        hasher.update([0xff]);
    }
    hex::encode(&hasher.finalize()[..8])
}

fn labels(alert: &Alert) -> BTreeMap<String, String> {
    let mut labels = with_stage(alert);
    labels.insert("rule".into(), alert.rule.clone());
    if let Some(s) = &alert.service_type {
        labels.insert("service_type".into(), s.clone());
    }
    labels
}

/// Keys and values shared by every map (Alertmanager's `commonLabels`/`commonAnnotations`).
fn common(maps: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some((first, rest)) = maps.split_first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|m| m.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The body bytes, alerts most urgent first.
pub(crate) fn body(digest: &Digest) -> Result<Vec<u8>, String> {
    let alerts: Vec<AmAlert> = render::sorted_by_urgency(&digest.alerts)
        .into_iter()
        .map(|alert| {
            let status = status_of(alert);
            AmAlert {
                status,
                labels: labels(alert),
                annotations: annotations(alert, digest.locale),
                starts_at: time(alert.raised_at),
                ends_at: if status == "resolved" {
                    time(alert.raised_at)
                } else {
                    ZERO_TIME.to_string()
                },
                generator_url: render::safe_link(alert).unwrap_or_default().to_string(),
                fingerprint: fingerprint(alert),
            }
        })
        .collect();
    let status = if alerts.iter().any(|a| a.status == "firing") {
        "firing"
    } else {
        "resolved"
    };
    let message = Message {
        version: "4",
        group_key: format!("{{}}:{{receiver={:?}}}", digest.receiver),
        truncated_alerts: 0,
        status,
        receiver: &digest.receiver,
        group_labels: BTreeMap::new(),
        common_labels: common(&alerts.iter().map(|a| &a.labels).collect::<Vec<_>>()),
        common_annotations: common(&alerts.iter().map(|a| &a.annotations).collect::<Vec<_>>()),
        external_url: "",
        alerts,
    };
    serde_json::to_vec(&message)
        .map_err(|e| format!("cannot encode the Alertmanager body: {e}"))
}

impl WebhookFormat for Alertmanager {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn render(
        &self,
        _receiver: &ReceiverSetup,
        digest: &Digest,
        _now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        Ok(RenderedRequest::json(body(digest)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertKind, Severity};
    use crate::notify::render::tests::alert;

    fn digest(alerts: Vec<Alert>) -> Digest {
        Digest::new("am", alerts, Utc::now(), chrono_tz::UTC)
    }

    #[test]
    fn renewal_resolves_with_the_fingerprint_of_the_firing_alert() {
        let firing = alert("p", Some(3), Severity::Warning);
        let mut renewed = firing.clone();
        renewed.kind = AlertKind::Renewed;
        renewed.severity = Severity::Info;
        renewed.remain_days = Some(33);
        // Raised by another rule (a status change carries the first matching rule's name).
        renewed.rule = "another-rule".into();
        assert_eq!(fingerprint(&firing), fingerprint(&renewed));
        assert_eq!(fingerprint(&firing).len(), 16);
        let other = alert("q", Some(3), Severity::Warning);
        assert_ne!(fingerprint(&firing), fingerprint(&other));

        let body: serde_json::Value =
            serde_json::from_slice(&body(&digest(vec![renewed])).unwrap())
                .unwrap();
        assert_eq!(body["status"], "resolved");
        assert_ne!(body["alerts"][0]["endsAt"], ZERO_TIME);
    }

    #[test]
    fn non_https_links_are_not_generator_urls() {
        let mut a = alert("p", Some(3), Severity::Warning);
        a.next_action_url = Some("http://example.com/renew".into());
        let body: serde_json::Value =
            serde_json::from_slice(&body(&digest(vec![a])).unwrap()).unwrap();
        assert_eq!(body["alerts"][0]["generatorURL"], "");
        assert!(body["alerts"][0]["annotations"].get("renew_url").is_none());
        assert!(body["alerts"][0]["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("not https"));
    }
}
