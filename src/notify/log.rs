//! The `log` receiver: each alert becomes one structured `alert.log` event, for setups that
//! alert from logs. It cannot fail.

use super::{Digest, Notifier, NotifyError, Preview, PreviewFormat, Receipt};
use crate::config::LogLevel;
use crate::model::{Alert, Locale, Severity};

pub(crate) struct LogNotifier {
    name: String,
    level: LogLevel,
}

impl LogNotifier {
    pub(crate) fn new(name: &str, level: LogLevel) -> Self {
        LogNotifier {
            name: name.to_string(),
            level,
        }
    }

    /// Error for critical alerts or when the receiver says `level = "error"`, else warn.
    fn is_error(&self, alert: &Alert) -> bool {
        self.level == LogLevel::Error || alert.severity == Severity::Critical
    }
}

/// Emits one alert at the given level with the fields of renewd's JSON format. The message
/// is what the alert says in English as every receiver words it (a billing resource by its
/// name, not its type code).
macro_rules! alert_event {
    ($level:ident, $receiver:expr, $alert:expr) => {{
        let a: &Alert = $alert;
        let summary = super::render::message(a, Locale::En);
        tracing::$level!(
            event = "alert.log",
            receiver = %$receiver,
            id = %a.id,
            kind = %a.kind,
            severity = %a.severity,
            rule = %a.rule,
            account = %a.account,
            project_id = a.project_id.as_deref(),
            package = a.package.as_deref(),
            resource_id = a.resource_id.as_deref(),
            package_status = a.package_status,
            package_status_name = a.package_status_name.as_deref(),
            remain_days = a.remain_days,
            threshold = a.threshold,
            next_action_url = a.next_action_url.as_deref(),
            reminder = a.reminder,
            summary = %summary,
            "{}",
            summary
        )
    }};
}

impl LogNotifier {
    /// Logs every alert of `digest`, most urgent first; how many.
    fn log(&self, digest: &Digest) -> usize {
        let alerts = super::render::sorted_by_urgency(&digest.alerts);
        for alert in &alerts {
            if self.is_error(alert) {
                alert_event!(error, self.name, alert);
            } else {
                alert_event!(warn, self.name, alert);
            }
        }
        alerts.len()
    }
}

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "log"
    }

    /// The `alert.log` events as the log would get them: `text` in the text format, `json` in
    /// the JSON format (one object a line).
    fn preview(&self, digest: &Digest) -> Result<Preview, NotifyError> {
        Ok(Preview {
            default: PreviewFormat::Text,
            text: Some(crate::logging::capture(false, || {
                self.log(digest);
            })),
            html: None,
            json: Some(crate::logging::capture(true, || {
                self.log(digest);
            })),
        })
    }

    async fn send(&self, digest: &Digest) -> Result<Receipt, NotifyError> {
        let count = self.log(digest);
        Ok(Receipt {
            detail: format!("logged {count} alert(s)"),
        })
    }
}
