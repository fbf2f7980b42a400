//! When cycles run: the cron schedule evaluated in the configured time zone.
//!
//! Fire times are computed in local time from the zone's rules each time, never from a UTC
//! offset captured once: that is what keeps `0 0 9 * * *` at 09:00 local time on both sides of a
//! daylight-saving change (tokio-cron-scheduler's `*_tz` jobs freeze the offset when created).

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    tz: Tz,
}

impl Schedule {
    /// Parses `expr` (cron with seconds) for zone `tz`.
    pub fn new(expr: &str, tz: Tz) -> Result<Schedule, String> {
        Ok(Schedule {
            cron: crate::config::parse_schedule(expr)?,
            tz,
        })
    }

    pub fn from_config(daemon: &crate::config::DaemonConfig) -> Result<Schedule, String> {
        Schedule::new(&daemon.schedule, daemon.tz())
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`, in whole seconds.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        // croner carries the fraction of its starting point into the result (12:00:00.5 gives
        // 12:00:02.5 for `*/2`): start from the whole second, or every wake-up's latency would
        // push the schedule later.
        self.cron
            .find_next_occurrence(&after.trunc_subsecs(0).with_timezone(&self.tz), false)
            .ok()
    }

    /// The next `n` fire times strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(cursor) {
                Some(t) => {
                    cursor = t.with_timezone(&Utc);
                    out.push(t);
                }
                None => break,
            }
        }
        out
    }

    /// The longest gap between two consecutive runs among the next few: "two schedule periods"
    /// for readiness is measured with it.
    pub fn period(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let times = self.upcoming(now, 4);
        times.windows(2).map(|w| w[1] - w[0]).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn nine_oclock_in_berlin_stays_local_across_spring_forward() {
        // 2027-03-28: clocks go from 02:00 CET (+01) to 03:00 CEST (+02).
        let s = Schedule::new("0 0 9 * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = s.upcoming(utc("2027-03-26T12:00:00Z"), 3);
        let utc_runs: Vec<String> = runs
            .iter()
            .map(|t| t.with_timezone(&Utc).to_rfc3339())
            .collect();
        assert_eq!(
            utc_runs,
            vec![
                "2027-03-27T08:00:00+00:00", // 09:00 CET
                "2027-03-28T07:00:00+00:00", // 09:00 CEST
                "2027-03-29T07:00:00+00:00",
            ]
        );
        assert!(runs
            .iter()
            .all(|t| t.format("%H:%M:%S").to_string() == "09:00:00"));
    }

    #[test]
    fn nine_oclock_in_berlin_stays_local_across_fall_back() {
        // 2027-10-31: clocks go from 03:00 CEST (+02) back to 02:00 CET (+01).
        let s = Schedule::new("0 0 9 * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = s.upcoming(utc("2027-10-29T12:00:00Z"), 3);
        let utc_runs: Vec<String> = runs
            .iter()
            .map(|t| t.with_timezone(&Utc).to_rfc3339())
            .collect();
        assert_eq!(
            utc_runs,
            vec![
                "2027-10-30T07:00:00+00:00",
                "2027-10-31T08:00:00+00:00",
                "2027-11-01T08:00:00+00:00",
            ]
        );
    }

    #[test]
    fn a_time_skipped_by_spring_forward_runs_once_that_day() {
        // 02:30 does not exist in Berlin on 2027-03-28; the run must still happen once that day
        // (croner moves it forward), never twice and never not at all.
        let s = Schedule::new("0 30 2 * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = s.upcoming(utc("2027-03-27T12:00:00Z"), 2);
        let days: Vec<String> = runs
            .iter()
            .map(|t| t.format("%Y-%m-%d").to_string())
            .collect();
        assert_eq!(days, vec!["2027-03-28", "2027-03-29"]);
    }

    #[test]
    fn fire_times_are_whole_seconds_whatever_the_start() {
        let s = Schedule::new("*/2 * * * * *", chrono_tz::UTC).unwrap();
        let start = utc("2026-11-26T12:00:00.5Z");
        assert_eq!(
            s.next_after(start).unwrap().with_timezone(&Utc),
            utc("2026-11-26T12:00:02Z")
        );
    }

    #[test]
    fn seconds_schedules_tick_every_few_seconds() {
        let s = Schedule::new("*/5 * * * * *", chrono_tz::UTC).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 1).unwrap();
        let runs = s.upcoming(start, 2);
        assert_eq!(
            runs[0].with_timezone(&Utc),
            Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 5).unwrap()
        );
        assert_eq!(s.period(start), Some(chrono::Duration::seconds(5)));
    }
}
