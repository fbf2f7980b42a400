//! `type = "alertmanager_api"`: renewd's alerts in an existing Alertmanager, through its API
//! (`POST /api/v2/alerts`), so that Alertmanager's routing, grouping, silences and inhibition
//! apply to them.
//!
//! Each alert is posted with the labels `alertname`, `account`, `project_id`, `package`,
//! `resource_id` (where it has them), `severity` and `kind`, the annotations of
//! [`labels::annotations`] (`summary`, `renew_url`, `remain_days`, `expiry_date`, …),
//! `startsAt` (when it was decided) and `endsAt`:
//! - a firing kind (`expiring`, `expired`, `status_changed`, `poll_failed`) ends `hold` from
//!   now, about two schedule periods: past the next cycle, which posts it again while it holds
//!   ([`Notifier::refresh`]). If renewd stops, the Alertmanager resolves it by itself.
//! - `renewed`, `vanished` and `poll_recovered` have no label set of their own: they end, with
//!   `endsAt` = now, the alerts they close.
//!
//! Alertmanager tells alerts apart by their whole label set, and `severity` and `kind` change
//! from one stage to the next (`expiring`/`warning`, then `expiring`/`critical`, then
//! `expired`/`critical`): each stage is its own alert there. So that no stage stays open
//! beside the next, renewd first asks the Alertmanager which of its alerts are open
//! (`GET /api/v2/alerts`) and ends exactly those that a message replaces: the other stages of a
//! package when a new stage is posted (a stage decided after the one being posted is left
//! alone: a late retry never reopens an old stage), every open alert of a package on
//! `renewed` or `vanished`, an account/project's `poll_failed` on `poll_recovered`, and, when
//! refreshing, every open package or poll alert of this renewd's accounts that no longer holds.
//! Only open alerts are ended: resolving a label set Alertmanager never had would show up as a
//! `resolved` alert that never fired in the notifications of its group. A `status_changed`
//! alert is an event: it is not refreshed, and lapses at its `endsAt` unless a renewal or a
//! vanishing ends it sooner.
//!
//! Outcomes are those of every HTTP receiver (2xx delivered; 408, 429, 5xx and network errors
//! transient; other statuses permanent), for the `GET` and the `POST` alike.

use super::http::{classify, describe_send_error, origin, quote_body, retry_after, Outcome};
use super::labels::{self, LabelSet};
use super::{BuildError, Digest, Notifier, NotifyError, Preview, PreviewFormat, Receipt};
use crate::config::Secret;
use crate::model::{Alert, AlertKind, Locale};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long the alert of `renewd test-notify` stays open.
pub(crate) const TEST_HOLD: Duration = Duration::from_secs(10 * 60);
/// The largest answer to `GET /api/v2/alerts` that is read (it lists every open alert).
const MAX_OPEN_ALERTS_BODY: usize = 16 * 1024 * 1024;
/// How much of any other answer is read, for error messages.
const MAX_ANSWER_BODY: usize = 64 * 1024;

/// How the receiver proves who it is to the Alertmanager (or its proxy).
pub(crate) enum Auth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Auth {
    /// What `check` says of it, never the secret.
    pub(crate) fn describe(&self) -> String {
        match self {
            Auth::None => "no auth".into(),
            Auth::Basic { username, .. } => format!("basic auth as {username}"),
            Auth::Bearer(_) => "bearer token".into(),
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Basic { password, .. } => Some(password.expose()),
            Auth::Bearer(token) => Some(token.expose()),
        }
    }
}

pub(crate) struct AlertmanagerApiNotifier {
    name: String,
    /// `<url>/api/v2/alerts`.
    alerts_url: url::Url,
    /// `scheme://host[:port]`, for messages.
    origin: String,
    auth: Auth,
    http: reqwest::Client,
    timeout: Duration,
    /// How long after a post a firing alert ends unless posted again: two schedule periods.
    hold: Duration,
    /// This renewd's accounts: the open alerts a refresh may end are theirs.
    accounts: BTreeSet<String>,
}

impl std::fmt::Debug for AlertmanagerApiNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertmanagerApiNotifier")
            .field("name", &self.name)
            .field("alerts_url", &self.alerts_url.as_str())
            .field("auth", &self.auth.describe())
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

impl AlertmanagerApiNotifier {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &str,
        url: &str,
        auth: Auth,
        http: reqwest::Client,
        timeout: Duration,
        hold: Duration,
        accounts: impl IntoIterator<Item = String>,
    ) -> Result<Self, BuildError> {
        let alerts_url = alerts_url(url).ok_or_else(|| BuildError::InvalidUrl {
            receiver: name.to_string(),
        })?;
        Ok(AlertmanagerApiNotifier {
            name: name.to_string(),
            origin: origin(&alerts_url),
            alerts_url,
            auth,
            http,
            timeout,
            hold,
            accounts: accounts.into_iter().collect(),
        })
    }

    /// The alerts of renewd's alertnames that the Alertmanager has open (firing, silenced or
    /// inhibited; it never lists resolved ones).
    async fn open_alerts(&self) -> Result<Vec<OpenAlert>, NotifyError> {
        let mut url = self.alerts_url.clone();
        url.query_pairs_mut().append_pair(
            "filter",
            &format!(
                "alertname=~\"{}|{}\"",
                labels::PACKAGE_ALERTNAME,
                labels::POLL_ALERTNAME
            ),
        );
        let request = self.http.get(url).header(ACCEPT, "application/json");
        let (status, body) = self.exchange("GET", request, MAX_OPEN_ALERTS_BODY).await?;
        if body.too_large {
            return Err(self.permanent(format!(
                "GET {} answered HTTP {status} with more than {} of open alerts, not read",
                self.origin,
                crate::capped::describe(MAX_OPEN_ALERTS_BODY)
            )));
        }
        serde_json::from_slice(&body.bytes).map_err(|e| {
            self.permanent(format!(
                "GET {} answered HTTP {status} with something other than a list of alerts: {e}",
                self.origin
            ))
        })
    }

    /// The body of the `POST /api/v2/alerts` for `plan`.
    fn body(&self, plan: &Plan) -> Result<Vec<u8>, NotifyError> {
        serde_json::to_vec(&plan.alerts)
            .map_err(|e| self.permanent(format!("cannot encode the alerts: {e}")))
    }

    /// POSTs what `plan` says, if anything.
    async fn post(&self, plan: &Plan) -> Result<Receipt, NotifyError> {
        let summary = plan.summary();
        if plan.alerts.is_empty() {
            return Ok(Receipt {
                detail: format!("nothing to post ({summary})"),
            });
        }
        let body = self.body(plan)?;
        let request = self
            .http
            .post(self.alerts_url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let (status, _) = self.exchange("POST", request, MAX_ANSWER_BODY).await?;
        Ok(Receipt {
            detail: format!("HTTP {} ({summary})", status.as_u16()),
        })
    }

    /// One request with the receiver's auth and timeout; a 2xx answer's status and body, or
    /// the failure classified.
    async fn exchange(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
        cap: usize,
    ) -> Result<(reqwest::StatusCode, crate::capped::Body), NotifyError> {
        let request = match &self.auth {
            Auth::None => request,
            Auth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
        };
        let now = Utc::now();
        let mut response = request
            .header(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                self.transient(
                    describe_send_error(method, &self.origin, self.timeout, e),
                    None,
                )
            })?;
        let status = response.status();
        let retry_after = retry_after(response.headers(), now);
        let body = crate::capped::read(&mut response, cap).await;
        match (classify(status), body) {
            (Outcome::Delivered, Ok(body)) => Ok((status, body)),
            (Outcome::Delivered, Err(e)) => Err(self.transient(
                format!(
                    "{method} {} answered HTTP {status} but its body could not be read: {}",
                    self.origin,
                    crate::error_chain(&e.without_url())
                ),
                None,
            )),
            (Outcome::Transient, body) => Err(self.transient(
                format!(
                    "{method} {} answered HTTP {status}{}",
                    self.origin,
                    quote_body(&body.unwrap_or_default().bytes)
                ),
                retry_after,
            )),
            (Outcome::Permanent, body) => Err(self.permanent(format!(
                "{method} {} refused the request: HTTP {status}{}",
                self.origin,
                quote_body(&body.unwrap_or_default().bytes)
            ))),
        }
    }

    /// A message without the secret, should a server echo it.
    fn redact(&self, message: String) -> String {
        match self.auth.secret() {
            Some(secret) if !secret.is_empty() => message.replace(secret, "<redacted>"),
            _ => message,
        }
    }

    fn transient(&self, message: String, retry_after: Option<Duration>) -> NotifyError {
        NotifyError::Transient {
            receiver: self.name.clone(),
            message: self.redact(message),
            retry_after,
        }
    }

    fn permanent(&self, message: String) -> NotifyError {
        NotifyError::permanent(&self.name, self.redact(message))
    }
}

#[async_trait::async_trait]
impl Notifier for AlertmanagerApiNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "alertmanager_api"
    }

    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError> {
        // A test message replaces and ends nothing: no need to ask what is open.
        let open = if digest.alerts.iter().any(|a| a.kind != AlertKind::Test) {
            self.open_alerts().await?
        } else {
            Vec::new()
        };
        let plan = plan_digest_in(&digest.alerts, &open, Utc::now(), self.hold, digest.locale);
        self.post(&plan).await
    }

    /// `json`: the alerts `send` would POST to an Alertmanager that has none of renewd's
    /// open (a preview asks it nothing).
    fn preview(&self, digest: &Digest) -> Result<Preview, NotifyError> {
        let plan = plan_digest_in(&digest.alerts, &[], Utc::now(), self.hold, digest.locale);
        let json = String::from_utf8(self.body(&plan)?)
            .map_err(|e| self.permanent(format!("the body is not UTF-8: {e}")))?;
        Ok(Preview {
            default: PreviewFormat::Json,
            text: None,
            html: None,
            json: Some(json),
        })
    }

    fn keeps_alerts_open(&self) -> bool {
        true
    }

    async fn refresh(&self, active: &Digest) -> Result<Receipt, NotifyError> {
        let open = self.open_alerts().await?;
        let plan = plan_refresh(
            &active.alerts,
            &open,
            &self.accounts,
            Utc::now(),
            self.hold,
            active.locale,
        );
        self.post(&plan).await
    }
}

/// `<base>/api/v2/alerts`, keeping any path prefix of `base`; `None` for a URL without an
/// http(s) scheme and a host.
fn alerts_url(base: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(base).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let path = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

// ---------------------------------------------------------------------------------------------
// What to post: pure functions of the alerts, what the Alertmanager has open, and the time
// ---------------------------------------------------------------------------------------------

/// One alert as `POST /api/v2/alerts` takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: LabelSet,
    annotations: LabelSet,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// One open alert as `GET /api/v2/alerts` lists it (the fields renewd reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenAlert {
    labels: LabelSet,
    #[serde(default)]
    annotations: LabelSet,
    starts_at: DateTime<Utc>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
}

/// Which alerts of a package or account/project replace one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `expiring`, `expired`: one stage at a time.
    Condition,
    /// `status_changed`.
    Status,
    /// `poll_failed`.
    Poll,
}

fn class_of_kind(kind: &str) -> Option<Class> {
    match kind {
        "expiring" | "expired" | "auto_renew_failed" => Some(Class::Condition),
        "status_changed" => Some(Class::Status),
        "poll_failed" => Some(Class::Poll),
        _ => None,
    }
}

impl OpenAlert {
    fn class(&self) -> Option<Class> {
        self.labels.get("kind").and_then(|k| class_of_kind(k))
    }

    /// The labels that say which thing it is about (see [`labels::identity`]).
    fn identity(&self) -> LabelSet {
        self.labels
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "alertname" | "account" | "project_id" | "package" | "resource_id"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn is_renewds(&self) -> bool {
        self.labels
            .get("alertname")
            .is_some_and(|n| n == labels::PACKAGE_ALERTNAME || n == labels::POLL_ALERTNAME)
    }

    /// This alert again, ended now, with `annotations`.
    fn ended(&self, annotations: LabelSet, now: DateTime<Utc>) -> PostableAlert {
        PostableAlert {
            labels: self.labels.clone(),
            annotations,
            starts_at: labels::time(self.starts_at),
            // Never before its start (clocks apart): the Alertmanager would refuse the post.
            ends_at: labels::time(now.max(self.starts_at)),
            generator_url: self.generator_url.clone().filter(|u| !u.is_empty()),
        }
    }
}

/// What one post does: the alerts it carries, counted.
#[derive(Debug, Default)]
struct Plan {
    alerts: Vec<PostableAlert>,
    /// Alerts posted open (new, or kept open).
    open: usize,
    /// Open alerts ended.
    ended: usize,
    /// Firing alerts not posted: a later stage of the same package is open.
    superseded: usize,
}

impl Plan {
    fn summary(&self) -> String {
        let mut s = format!("{} open, {} ended", self.open, self.ended);
        if self.superseded > 0 {
            s.push_str(&format!(
                ", {} not posted: a later stage is open",
                self.superseded
            ));
        }
        s
    }

    fn end(&mut self, alert: PostableAlert) {
        self.alerts.push(alert);
        self.ended += 1;
    }
}

/// A firing alert to post: its label set, class and identity.
struct Firing<'a> {
    alert: &'a Alert,
    labels: LabelSet,
    identity: LabelSet,
    class: Option<Class>,
    /// The language of its annotations.
    locale: Locale,
}

impl<'a> Firing<'a> {
    fn new(alert: &'a Alert, locale: Locale) -> Firing<'a> {
        Firing {
            alert,
            locale,
            labels: labels::with_stage(alert),
            identity: labels::identity(alert),
            class: class_of_kind(alert.kind.as_str()),
        }
    }

    fn posted(&self, now: DateTime<Utc>, hold: Duration) -> PostableAlert {
        let hold = if self.alert.kind == AlertKind::Test {
            TEST_HOLD
        } else {
            hold
        };
        PostableAlert {
            labels: self.labels.clone(),
            annotations: labels::annotations(self.alert, self.locale),
            // Never after now (a decision made at a given instant, as in tests and replays).
            starts_at: labels::time(self.alert.raised_at.min(now)),
            ends_at: labels::time(now + chrono::Duration::from_std(hold).unwrap_or_default()),
            generator_url: crate::notify::render::safe_link(self.alert).map(str::to_string),
        }
    }
}

/// The latest alert of each label set (two rules may raise the same one).
fn distinct_label_sets(firing: Vec<Firing<'_>>) -> Vec<Firing<'_>> {
    let mut out: Vec<Firing<'_>> = Vec::with_capacity(firing.len());
    for f in firing {
        match out.iter_mut().find(|o| o.labels == f.labels) {
            Some(o) if f.alert.raised_at >= o.alert.raised_at => *o = f,
            Some(_) => {}
            None => out.push(f),
        }
    }
    out
}

/// A digest from the outbox: its firing alerts posted (unless a later stage of the same
/// package is open), the stages they replace and the alerts its resolutions close ended.
#[cfg(test)]
fn plan_digest(alerts: &[Alert], open: &[OpenAlert], now: DateTime<Utc>, hold: Duration) -> Plan {
    plan_digest_in(alerts, open, now, hold, Locale::En)
}

/// [`plan_digest`] with annotations in `locale`.
fn plan_digest_in(
    alerts: &[Alert],
    open: &[OpenAlert],
    now: DateTime<Utc>,
    hold: Duration,
    locale: Locale,
) -> Plan {
    let mut plan = Plan::default();
    let mut firing = Vec::new();
    // (identity, classes ended, the resolution)
    let mut resolutions: Vec<(LabelSet, &[Class], &Alert)> = Vec::new();
    for alert in alerts {
        match alert.kind {
            AlertKind::Renewed | AlertKind::Vanished => resolutions.push((
                labels::identity(alert),
                &[Class::Condition, Class::Status],
                alert,
            )),
            AlertKind::PollRecovered => {
                resolutions.push((labels::identity(alert), &[Class::Poll], alert))
            }
            _ => {
                let f = Firing::new(alert, locale);
                let later_stage_open = f.class.is_some()
                    && open.iter().any(|o| {
                        o.identity() == f.identity
                            && o.class() == f.class
                            && o.labels != f.labels
                            && o.starts_at > alert.raised_at
                    });
                if later_stage_open {
                    plan.superseded += 1;
                } else {
                    firing.push(f);
                }
            }
        }
    }
    let firing = distinct_label_sets(firing);
    for f in &firing {
        plan.alerts.push(f.posted(now, hold));
        plan.open += 1;
    }
    for o in open {
        if firing.iter().any(|f| f.labels == o.labels) {
            continue;
        }
        let identity = o.identity();
        let resolved_by = resolutions.iter().find(|(id, classes, alert)| {
            *id == identity
                && o.class().is_none_or(|c| classes.contains(&c))
                && o.starts_at <= alert.raised_at
        });
        if let Some((_, _, resolution)) = resolved_by {
            // The closing notice's own words (e.g. "renewed: 365 days left") on the ended alert.
            plan.end(o.ended(labels::annotations(resolution, locale), now));
        } else if o.class().is_some()
            && firing
                .iter()
                .any(|f| f.identity == identity && f.class == o.class())
        {
            plan.end(o.ended(o.annotations.clone(), now));
        }
    }
    plan
}

/// A refresh after a cycle: every alert that still holds posted again, and every open alert
/// of this renewd's accounts that no longer holds ended (`status_changed` ones lapse by
/// themselves).
fn plan_refresh(
    active: &[Alert],
    open: &[OpenAlert],
    accounts: &BTreeSet<String>,
    now: DateTime<Utc>,
    hold: Duration,
    locale: Locale,
) -> Plan {
    let mut plan = Plan::default();
    let firing = distinct_label_sets(
        active
            .iter()
            .filter(|a| !a.kind.is_resolution() && a.kind != AlertKind::Test)
            .map(|a| Firing::new(a, locale))
            .collect(),
    );
    for f in &firing {
        plan.alerts.push(f.posted(now, hold));
        plan.open += 1;
    }
    for o in open {
        let ours = o.is_renewds()
            && o.labels
                .get("account")
                .is_some_and(|a| accounts.contains(a));
        if !ours || o.class() == Some(Class::Status) || firing.iter().any(|f| f.labels == o.labels)
        {
            continue;
        }
        plan.end(o.ended(o.annotations.clone(), now));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::notify::render::tests::alert;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const DAY: Duration = Duration::from_secs(86_400);

    fn stage(days: i64, severity: Severity, kind: AlertKind, raised: &str) -> Alert {
        let mut a = alert("codeartsStorageExtension", Some(days), severity);
        a.project_id = Some("666666af0f00445f85dec483fbc97c78".into());
        a.kind = kind;
        a.raised_at = at(raised);
        a
    }

    /// What the Alertmanager would list after `alert` was posted.
    fn open_as(alert: &Alert) -> OpenAlert {
        OpenAlert {
            labels: labels::with_stage(alert),
            annotations: labels::annotations(alert, Locale::En),
            starts_at: alert.raised_at,
            generator_url: None,
        }
    }

    fn ends(plan: &Plan) -> Vec<(String, String, String)> {
        plan.alerts
            .iter()
            .map(|a| {
                (
                    a.labels["kind"].clone(),
                    a.labels["severity"].clone(),
                    a.ends_at.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_firing_alert_is_held_open_for_two_periods_with_the_contracted_labels() {
        let now = at("2026-11-26T01:00:00Z");
        let a = stage(
            6,
            Severity::Warning,
            AlertKind::Expiring,
            "2026-11-26T01:00:00Z",
        );
        let plan = plan_digest(std::slice::from_ref(&a), &[], now, 2 * DAY);
        assert_eq!(plan.alerts.len(), 1);
        let posted = serde_json::to_value(&plan.alerts[0]).unwrap();
        let labels = posted["labels"].as_object().unwrap();
        let mut keys: Vec<&str> = labels.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account",
                "alertname",
                "kind",
                "package",
                "project_id",
                "resource_id",
                "severity"
            ]
        );
        assert_eq!(posted["labels"]["alertname"], "CodeArtsPackageExpiry");
        assert_eq!(posted["labels"]["severity"], "warning");
        assert_eq!(posted["startsAt"], "2026-11-26T01:00:00Z");
        assert_eq!(posted["endsAt"], "2026-11-28T01:00:00Z");
        for key in ["summary", "renew_url", "remain_days", "expiry_date"] {
            assert!(
                posted["annotations"].get(key).is_some(),
                "{key}: {posted:#}"
            );
        }
        assert_eq!(posted["annotations"]["remain_days"], "6");
        assert!(posted["generatorURL"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
    }

    #[test]
    fn a_new_stage_ends_the_open_one_and_a_late_old_stage_does_not_reopen() {
        let warning = stage(
            6,
            Severity::Warning,
            AlertKind::Expiring,
            "2026-11-26T01:00:00Z",
        );
        let critical = stage(
            1,
            Severity::Critical,
            AlertKind::Expiring,
            "2026-12-01T01:00:00Z",
        );
        let now = at("2026-12-01T01:00:05Z");
        let plan = plan_digest(
            std::slice::from_ref(&critical),
            &[open_as(&warning)],
            now,
            2 * DAY,
        );
        assert_eq!(
            ends(&plan),
            [
                (
                    "expiring".into(),
                    "critical".into(),
                    "2026-12-03T01:00:05Z".into()
                ),
                (
                    "expiring".into(),
                    "warning".into(),
                    "2026-12-01T01:00:05Z".into()
                ),
            ]
        );
        // The warning, retried late, finds the critical stage open: nothing is posted.
        let late = plan_digest(
            std::slice::from_ref(&warning),
            &[open_as(&critical)],
            now,
            2 * DAY,
        );
        assert!(late.alerts.is_empty(), "{:?}", late.alerts);
        assert_eq!(late.superseded, 1);
        // Another package's alerts are not touched.
        let mut other = warning.clone();
        other.package = Some("codeartsTrafficExtension".into());
        let plan = plan_digest(
            std::slice::from_ref(&critical),
            &[open_as(&other)],
            now,
            2 * DAY,
        );
        assert_eq!(plan.ended, 0);
    }

    #[test]
    fn a_renewal_ends_every_open_alert_of_the_package_and_only_those() {
        let expired = stage(
            0,
            Severity::Critical,
            AlertKind::Expired,
            "2026-12-02T01:00:00Z",
        );
        let mut status = stage(
            0,
            Severity::Warning,
            AlertKind::StatusChanged,
            "2026-12-02T01:00:00Z",
        );
        status.package_status = Some(5);
        let mut renewed = stage(
            365,
            Severity::Info,
            AlertKind::Renewed,
            "2026-12-03T01:00:00Z",
        );
        renewed.summary = "codeartsStorageExtension was renewed: 365 days left".into();
        let mut poll = stage(
            0,
            Severity::Critical,
            AlertKind::PollFailed,
            "2026-12-02T01:00:00Z",
        );
        poll.package = None;
        poll.resource_id = None;
        let now = at("2026-12-03T01:00:05Z");
        let open = [open_as(&expired), open_as(&status), open_as(&poll)];
        let plan = plan_digest(std::slice::from_ref(&renewed), &open, now, 2 * DAY);
        assert_eq!(
            ends(&plan),
            [
                (
                    "expired".into(),
                    "critical".into(),
                    "2026-12-03T01:00:05Z".into()
                ),
                (
                    "status_changed".into(),
                    "warning".into(),
                    "2026-12-03T01:00:05Z".into()
                ),
            ]
        );
        assert_eq!(plan.open, 0);
        assert_eq!(
            plan.alerts[0].annotations["summary"],
            "codeartsStorageExtension was renewed: 365 days left"
        );
        // The ended alert keeps its label set and start, to the letter.
        assert_eq!(plan.alerts[0].labels, open[0].labels);
        assert_eq!(plan.alerts[0].starts_at, "2026-12-02T01:00:00Z");
        // A stage opened after the renewal (a new cycle) stays open.
        let mut next = expired.clone();
        next.raised_at = at("2026-12-04T01:00:00Z");
        let plan = plan_digest(
            std::slice::from_ref(&renewed),
            &[open_as(&next)],
            now,
            2 * DAY,
        );
        assert!(plan.alerts.is_empty());
        // poll_recovered ends the poll alert only.
        let mut recovered = poll.clone();
        recovered.kind = AlertKind::PollRecovered;
        recovered.raised_at = now;
        let plan = plan_digest(std::slice::from_ref(&recovered), &open, now, 2 * DAY);
        assert_eq!(
            ends(&plan),
            [(
                "poll_failed".into(),
                "critical".into(),
                "2026-12-03T01:00:05Z".into()
            )]
        );
    }

    #[test]
    fn a_refresh_reposts_what_holds_and_ends_what_no_longer_does() {
        let holds = stage(
            3,
            Severity::Warning,
            AlertKind::Expiring,
            "2026-11-30T01:00:00Z",
        );
        let mut gone = stage(
            3,
            Severity::Warning,
            AlertKind::Expiring,
            "2026-11-29T01:00:00Z",
        );
        gone.package = Some("codeartsTrafficExtension".into());
        let mut status = gone.clone();
        status.kind = AlertKind::StatusChanged;
        let mut elsewhere = gone.clone();
        elsewhere.account = "another-renewd".into();
        let open = [
            open_as(&holds),
            open_as(&gone),
            open_as(&status),
            open_as(&elsewhere),
        ];
        let accounts: BTreeSet<String> = ["prod".to_string()].into();
        let now = at("2026-12-01T01:00:05Z");
        let plan = plan_refresh(
            std::slice::from_ref(&holds),
            &open,
            &accounts,
            now,
            2 * DAY,
            Locale::En,
        );
        assert_eq!(plan.open, 1);
        assert_eq!(plan.ended, 1);
        assert_eq!(plan.alerts[0].labels["package"], "codeartsStorageExtension");
        assert_eq!(plan.alerts[0].ends_at, "2026-12-03T01:00:05Z");
        assert_eq!(plan.alerts[1].labels["package"], "codeartsTrafficExtension");
        assert_eq!(plan.alerts[1].labels["kind"], "expiring");
        assert_eq!(plan.alerts[1].ends_at, "2026-12-01T01:00:05Z");
    }

    #[test]
    fn a_test_message_is_open_briefly_and_a_future_decision_starts_now() {
        let now = at("2026-11-26T01:00:00Z");
        let mut test = stage(11, Severity::Info, AlertKind::Test, "2026-11-27T00:00:00Z");
        test.kind = AlertKind::Test;
        let plan = plan_digest(std::slice::from_ref(&test), &[], now, 2 * DAY);
        assert_eq!(plan.alerts[0].labels["alertname"], "RenewdTest");
        assert_eq!(plan.alerts[0].starts_at, "2026-11-26T01:00:00Z");
        assert_eq!(plan.alerts[0].ends_at, "2026-11-26T01:10:00Z");
    }

    #[test]
    fn the_alerts_url_keeps_a_path_prefix() {
        assert_eq!(
            alerts_url("https://am.example.com:9093").unwrap().as_str(),
            "https://am.example.com:9093/api/v2/alerts"
        );
        assert_eq!(
            alerts_url("https://example.com/alertmanager/")
                .unwrap()
                .as_str(),
            "https://example.com/alertmanager/api/v2/alerts"
        );
        assert!(alerts_url("ftp://example.com").is_none());
    }
}
