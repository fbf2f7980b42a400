//! When the next cycle is due, in wall-clock time.
//!
//! Why not tokio-cron-scheduler: its `*_tz` jobs compute fire times with the UTC offset frozen
//! at creation (its issues #87/#107), so a 09:00 Berlin job runs at 10:00 after the spring
//! change. Using it correctly would mean a one-shot job per tick, armed at an instant computed
//! by [`Schedule`] — a job store, UUIDs and a scheduler task for what one timer does. So the
//! daemon asks [`Schedule::next_after`] (the zone's rules, looked up for every tick) and sleeps
//! with a tokio timer, in steps of at most [`MAX_SLEEP`] so that a wall-clock change (NTP step,
//! suspend and resume) is noticed within that step, not a day later.

use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::time::Duration;

/// Longest single sleep towards the next fire time: the wall clock is read again after it.
pub(crate) const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The armed next fire time of a schedule.
#[derive(Debug, Clone)]
pub(crate) struct CycleClock {
    schedule: Schedule,
    next: Option<DateTime<Utc>>,
}

impl CycleClock {
    /// Armed at the first fire time strictly after `now`.
    pub(crate) fn new(schedule: Schedule, now: DateTime<Utc>) -> CycleClock {
        let next = next_after(&schedule, now);
        CycleClock { schedule, next }
    }

    /// The next fire time in the schedule's zone (`None`: the expression never fires again).
    pub(crate) fn next(&self) -> Option<DateTime<Tz>> {
        self.next
            .map(|t| t.with_timezone(&self.schedule.timezone()))
    }

    /// How long to sleep before looking again: until the fire time, at most [`MAX_SLEEP`];
    /// zero when it is due.
    pub(crate) fn sleep_for(&self, now: DateTime<Utc>) -> Duration {
        let Some(next) = self.next else {
            return MAX_SLEEP;
        };
        match (next - now).to_std() {
            Ok(left) if left.is_zero() => Duration::ZERO,
            // Rounded up to the millisecond, so a wake a hair early does not spin.
            Ok(left) => {
                let millis = u64::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
                Duration::from_millis(millis).min(MAX_SLEEP)
            }
            Err(_) => Duration::ZERO,
        }
    }

    /// When the fire time has come at `now`: returns it and re-arms to the first fire time
    /// after `now` — ticks missed while asleep (suspend, a clock step) collapse into this one.
    pub(crate) fn fire_if_due(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let due = self.next.filter(|next| *next <= now)?;
        self.next = next_after(&self.schedule, now.max(due));
        Some(due)
    }
}

fn next_after(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Never a time already due: that would run cycles back to back (the schedule guarantees
    // it; this keeps a mistake there from becoming a tight loop here).
    schedule
        .next_after(after)
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t > after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Runs the clock the way the daemon loop does — sleep as told, wake, fire when due — and
    /// returns the fire times.
    fn run(expr: &str, tz: Tz, start: &str, fires: usize) -> Vec<DateTime<Utc>> {
        let mut now = utc(start);
        let mut clock = CycleClock::new(Schedule::new(expr, tz).unwrap(), now);
        let mut fired = Vec::new();
        let mut wakes = 0;
        while fired.len() < fires {
            now += chrono::Duration::from_std(clock.sleep_for(now)).unwrap();
            if let Some(at) = clock.fire_if_due(now) {
                fired.push(at);
            }
            wakes += 1;
            assert!(wakes < 100_000, "the clock never fired");
        }
        fired
    }

    fn rfc3339(times: &[DateTime<Utc>]) -> Vec<String> {
        times.iter().map(|t| t.to_rfc3339()).collect()
    }

    #[test]
    fn nine_oclock_in_berlin_follows_spring_forward() {
        // 2027-03-28 02:00 CET (+01) becomes 03:00 CEST (+02): 09:00 local moves from 08:00
        // to 07:00 UTC. A frozen offset would fire at 08:00 UTC (10:00 local) from then on.
        let fired = run(
            "0 0 9 * * *",
            chrono_tz::Europe::Berlin,
            "2027-03-26T12:00:00Z",
            4,
        );
        assert_eq!(
            rfc3339(&fired),
            [
                "2027-03-27T08:00:00+00:00",
                "2027-03-28T07:00:00+00:00",
                "2027-03-29T07:00:00+00:00",
                "2027-03-30T07:00:00+00:00",
            ]
        );
    }

    #[test]
    fn nine_oclock_in_berlin_follows_fall_back() {
        // 2027-10-31 03:00 CEST goes back to 02:00 CET: 09:00 local moves from 07:00 to 08:00 UTC.
        let fired = run(
            "0 0 9 * * *",
            chrono_tz::Europe::Berlin,
            "2027-10-29T12:00:00Z",
            3,
        );
        assert_eq!(
            rfc3339(&fired),
            [
                "2027-10-30T07:00:00+00:00",
                "2027-10-31T08:00:00+00:00",
                "2027-11-01T08:00:00+00:00",
            ]
        );
        let tz = chrono_tz::Europe::Berlin;
        assert!(fired
            .iter()
            .all(|t| t.with_timezone(&tz).format("%H:%M:%S").to_string() == "09:00:00"));
    }

    #[test]
    fn a_run_in_the_skipped_hour_happens_once_that_day() {
        // 02:30 does not exist in Berlin on 2027-03-28: one run that day, not zero, not two.
        let fired = run(
            "0 30 2 * * *",
            chrono_tz::Europe::Berlin,
            "2027-03-27T12:00:00Z",
            2,
        );
        let tz = chrono_tz::Europe::Berlin;
        let days: Vec<String> = fired
            .iter()
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string())
            .collect();
        assert_eq!(days, ["2027-03-28", "2027-03-29"]);
    }

    #[test]
    fn sleeps_are_bounded_so_a_clock_change_is_noticed() {
        let now = utc("2027-03-26T12:00:00Z");
        let clock = CycleClock::new(
            Schedule::new("0 0 9 * * *", chrono_tz::Europe::Berlin).unwrap(),
            now,
        );
        assert_eq!(clock.sleep_for(now), MAX_SLEEP);
        // The wall clock jumped past the fire time while asleep: due at once.
        assert_eq!(clock.sleep_for(utc("2027-03-27T08:00:01Z")), Duration::ZERO);
    }

    #[test]
    fn ticks_missed_while_asleep_fire_once() {
        let start = utc("2026-11-26T00:00:00Z");
        let mut clock = CycleClock::new(
            Schedule::new("*/2 * * * * *", chrono_tz::UTC).unwrap(),
            start,
        );
        // Woken ten seconds late (suspend): one fire, re-armed after now, not five catch-ups.
        let late = utc("2026-11-26T00:00:12.500Z");
        assert_eq!(clock.fire_if_due(late), Some(utc("2026-11-26T00:00:02Z")));
        assert_eq!(clock.fire_if_due(late), None);
        assert_eq!(
            clock.next().map(|t| t.with_timezone(&Utc)),
            Some(utc("2026-11-26T00:00:14Z"))
        );
    }

    #[test]
    fn not_due_before_the_fire_time() {
        let start = utc("2026-11-26T00:00:00Z");
        let mut clock = CycleClock::new(
            Schedule::new("*/2 * * * * *", chrono_tz::UTC).unwrap(),
            start,
        );
        assert_eq!(clock.fire_if_due(utc("2026-11-26T00:00:01.999Z")), None);
        assert_eq!(
            clock.sleep_for(utc("2026-11-26T00:00:01.999Z")),
            Duration::from_millis(1)
        );
    }
}
