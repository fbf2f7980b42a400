//! `format = "json"`: renewd's own JSON (docs/design.md):
//! `{"version":"1","source":"renewd","sent_at","receiver","alerts"}`, alerts most urgent first,
//! each with its `source` (`packages` | `subscriptions`), and `silences_ending` (`[{"id","matchers","ends_at","created_by","reason"}]`, the silences
//! in force that end within a day) when there are some.
//!
//! Signing: with a `secret`, the [`SIGNATURE_HEADER`] carries
//! `t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>.<body>")>`. The time is part
//! of what is signed, so a receiver can refuse old (replayed) requests. No quota: the
//! receiver is ours or the operator's.

use super::format::{hmac_sha256, ReceiverSetup, RenderedRequest, WebhookFormat};
use crate::config::Secret;
use crate::model::{Alert, SourceKind};
use crate::notify::{render, Digest};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Serialize;

/// Header carrying the signature when a `secret` is configured.
pub(crate) const SIGNATURE_HEADER: &str = "x-renewd-signature";

pub(crate) struct Json;

#[derive(Serialize)]
struct JsonBody<'a> {
    version: &'static str,
    source: &'static str,
    sent_at: String,
    receiver: &'a str,
    alerts: Vec<JsonAlert<'a>>,
    /// Silences in force that end within a day: present only when there are some.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    silences_ending: &'a [crate::notify::SilenceEnding],
}

/// An alert as this format sends it: its own form, plus `source` always. The alert's own form
/// (what the state store keeps, `once --json`) writes `source` only when it is not
/// `packages`, so that a stored CodeArts decision reads as it always did; here it is added,
/// after the alert's other fields, when the alert left it out.
#[derive(Serialize)]
struct JsonAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceKind>,
}

impl<'a> JsonAlert<'a> {
    fn new(alert: &'a Alert) -> JsonAlert<'a> {
        JsonAlert {
            alert,
            source: alert.source.is_packages().then_some(alert.source),
        }
    }
}

/// The body bytes, alerts most urgent first.
pub(crate) fn body(digest: &Digest) -> Result<Vec<u8>, String> {
    let body = JsonBody {
        version: "1",
        source: "renewd",
        sent_at: digest.sent_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        receiver: &digest.receiver,
        alerts: render::sorted_by_urgency(&digest.alerts)
            .into_iter()
            .map(JsonAlert::new)
            .collect(),
        silences_ending: &digest.silences_ending,
    };
    serde_json::to_vec(&body).map_err(|e| format!("cannot encode the JSON body: {e}"))
}

/// The `X-Renewd-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub(crate) fn signature(secret: &Secret, unix_seconds: i64, body: &[u8]) -> String {
    let t = unix_seconds.to_string();
    let mac = hmac_sha256(
        secret.expose().as_bytes(),
        &[t.as_bytes(), b".", body].concat(),
    );
    format!("t={t},v1={}", hex::encode(mac))
}

impl WebhookFormat for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn signs(&self) -> bool {
        true
    }

    fn render(
        &self,
        receiver: &ReceiverSetup,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<RenderedRequest, String> {
        let mut request = RenderedRequest::json(body(digest)?);
        if let Some(secret) = &receiver.secret {
            let value = HeaderValue::from_str(&signature(secret, now.timestamp(), &request.body))
                .map_err(|e| format!("cannot build the signature header: {e}"))?;
            request
                .headers
                .push((HeaderName::from_static(SIGNATURE_HEADER), value));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::notify::render::tests::alert;

    #[test]
    fn json_body_has_the_documented_shape_and_order() {
        let sent_at = DateTime::parse_from_rfc3339("2026-11-26T01:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let digest = Digest::new(
            "ops",
            vec![
                alert("later", Some(20), Severity::Info),
                alert("soon", Some(2), Severity::Warning),
            ],
            sent_at,
            chrono_tz::UTC,
        );
        let body: serde_json::Value = serde_json::from_slice(&body(&digest).unwrap()).unwrap();
        assert_eq!(body["version"], "1");
        assert_eq!(body["source"], "renewd");
        assert_eq!(body["sent_at"], "2026-11-26T01:00:00Z");
        assert_eq!(body["receiver"], "ops");
        assert_eq!(body["alerts"][0]["package"], "soon");
        assert_eq!(body["alerts"][1]["package"], "later");
    }

    #[test]
    fn every_alert_says_its_source_once() {
        let mut subscription = alert("hws.resource.type.vm", Some(6), Severity::Warning);
        subscription.source = SourceKind::Subscriptions;
        let digest = Digest::new(
            "ops",
            vec![alert("codeartsStorageExtension", Some(6), Severity::Info), subscription],
            DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            chrono_tz::UTC,
        );
        let text = String::from_utf8(body(&digest).unwrap()).unwrap();
        assert_eq!(text.matches(r#""source":"subscriptions""#).count(), 1);
        assert_eq!(text.matches(r#""source":"packages""#).count(), 1);
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["alerts"][0]["source"], "subscriptions");
        assert_eq!(body["alerts"][1]["source"], "packages");
    }

    #[test]
    fn signature_signs_time_and_body() {
        let s = signature(&Secret::new("Jefe"), 1_700_000_000, b"{}");
        let expected = hex::encode(hmac_sha256(b"Jefe", b"1700000000.{}"));
        assert_eq!(s, format!("t=1700000000,v1={expected}"));
    }
}
