//! When cycles run: the cron schedule evaluated in the configured time zone.
//!
//! Fire times are computed in local time from the zone's rules each time, never from a UTC
//! offset captured once: that is what keeps `0 0 9 * * *` at 09:00 local time on both sides of a
//! daylight-saving change (tokio-cron-scheduler's `*_tz` jobs freeze the offset when created).

use chrono::{DateTime, FixedOffset, Offset, SubsecRound, TimeDelta, Utc};
use chrono_tz::Tz;

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    cron: croner::Cron,
    tz: Tz,
}

impl Schedule {
    /// Parses `expr` (cron with seconds) for zone `tz`.
    pub(crate) fn new(expr: &str, tz: Tz) -> Result<Schedule, String> {
        Ok(Schedule {
            cron: parse_schedule(expr)?,
            tz,
        })
    }

    pub(crate) fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`, in whole seconds.
    ///
    /// croner reads wall-clock time, which is right everywhere but in the hour repeated when
    /// clocks go back: there it reads an ambiguous wall time as its first instance (which may
    /// have passed) and never yields the second. So the wall clock is also read at each UTC
    /// offset in force around `after`. Like cron, a schedule that runs every hour also runs in
    /// the second instance of the repeated hour; one at fixed times (`0 30 2 * * *`) runs once.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        // croner carries the fraction of its starting point into the result (12:00:00.5 gives
        // 12:00:02.5 for `*/2`): start from the whole second, or every wake-up's latency would
        // push the schedule later.
        let after = after.trunc_subsecs(0);
        let zoned = self
            .cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .filter(|t| t.with_timezone(&Utc) > after);
        let mut offsets = vec![after.with_timezone(&self.tz).offset().fix()];
        if let Some(t) = &zoned {
            offsets.push(t.offset().fix());
        }
        offsets.dedup();
        offsets
            .into_iter()
            .filter_map(|offset| self.next_at_offset(after, offset))
            .chain(zoned)
            .min()
    }

    /// The first fire time after `after` whose wall clock read at `offset` matches, while that
    /// is the zone's own offset; second instances of a repeated hour only for hourly schedules.
    fn next_at_offset(&self, after: DateTime<Utc>, offset: FixedOffset) -> Option<DateTime<Tz>> {
        let mut cursor = after;
        // Bounded: each step skips one fire time inside one repeated hour (at most 3600).
        for _ in 0..=3600 {
            let fire = self
                .cron
                .find_next_occurrence(&cursor.with_timezone(&offset), false)
                .ok()?
                .with_timezone(&self.tz);
            if fire.offset().fix() != offset {
                return None; // not a wall-clock time of this zone at that offset
            }
            if self.is_second_instance(&fire) && !self.runs_hourly(&fire) {
                cursor = fire.with_timezone(&Utc);
                continue;
            }
            return Some(fire);
        }
        None
    }

    /// Whether `t`'s wall-clock time happened once already (the repeated hour's second pass).
    fn is_second_instance(&self, t: &DateTime<Tz>) -> bool {
        use chrono::{LocalResult, TimeZone};
        matches!(
            self.tz.from_local_datetime(&t.naive_local()),
            LocalResult::Ambiguous(first, _) if first < *t
        )
    }

    /// Whether the schedule also fires one wall-clock hour before `t` (it runs every hour).
    fn runs_hourly(&self, t: &DateTime<Tz>) -> bool {
        let wall = t.with_timezone(&t.offset().fix());
        self.cron
            .is_time_matching(&(wall - TimeDelta::hours(1)))
            .unwrap_or(false)
    }

    /// The next `n` fire times strictly after `after`.
    pub(crate) fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
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
    pub(crate) fn period(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.longest_gap(now, 4)
    }

    /// The longest gap between two consecutive runs among the next `runs`.
    pub(crate) fn longest_gap(&self, now: DateTime<Utc>, runs: usize) -> Option<chrono::Duration> {
        let times = self.upcoming(now, runs);
        times.windows(2).map(|w| w[1] - w[0]).max()
    }
}

/// Parses a cron expression the way the scheduler does: seconds required.
pub(crate) fn parse_schedule(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields == 5 {
        return Err(format!(
            "{expr:?} has 5 fields; renewd's cron needs seconds first (6 fields), e.g. \"0 {expr}\""
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_cron_gets_a_hint() {
        let e = parse_schedule("0 9 * * *").unwrap_err();
        assert!(e.contains("seconds"), "{e}");
        assert!(parse_schedule("0 0 9 * * *").is_ok());
    }
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

    fn utc_times(runs: &[DateTime<Tz>]) -> Vec<String> {
        runs.iter()
            .map(|t| t.with_timezone(&Utc).format("%H:%M").to_string())
            .collect()
    }

    #[test]
    fn hourly_and_half_hourly_schedules_run_in_the_repeated_hour_of_fall_back() {
        // 2026-10-25, Berlin: 03:00 CEST (01:00Z) becomes 02:00 CET; 02:xx local happens twice.
        let hourly = Schedule::new("0 0 * * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = hourly.upcoming(utc("2026-10-24T22:30:00Z"), 5);
        assert_eq!(
            utc_times(&runs),
            ["23:00", "00:00", "01:00", "02:00", "03:00"],
            "one run every real hour"
        );
        let half = Schedule::new("0 */30 * * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = half.upcoming(utc("2026-10-24T23:50:00Z"), 6);
        assert_eq!(
            utc_times(&runs),
            ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
        );
    }

    #[test]
    fn every_run_is_later_than_the_last_and_hourly_gaps_stay_even_across_dst() {
        let zones = [
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Sydney,
        ];
        // Starts a little before each zone's changes in 2026/2027, every 7 minutes over 3 hours.
        let starts = [
            "2026-03-08T05:00:00Z", // New York, spring
            "2026-11-01T04:00:00Z", // New York, fall
            "2026-10-03T14:00:00Z", // Sydney, spring (AEST to AEDT)
            "2027-04-03T14:00:00Z", // Sydney, fall
            "2026-10-24T23:00:00Z", // Berlin, fall
            "2027-03-28T00:00:00Z", // Berlin, spring
        ];
        for tz in zones {
            for (expr, gap) in [
                ("0 0 * * * *", 60),
                ("0 */30 * * * *", 30),
                ("0 15 * * * *", 60),
            ] {
                let s = Schedule::new(expr, tz).unwrap();
                for start in starts {
                    for step in 0..26 {
                        let from = utc(start) + TimeDelta::minutes(7 * step);
                        let runs = s.upcoming(from, 6);
                        assert!(runs[0].with_timezone(&Utc) > from, "{expr} {tz} {from}");
                        for pair in runs.windows(2) {
                            assert_eq!(
                                pair[1].with_timezone(&Utc) - pair[0].with_timezone(&Utc),
                                TimeDelta::minutes(gap),
                                "{expr} in {tz} from {from}: {runs:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The instants in 2026 at which `tz` changes its UTC offset (to the hour).
    fn offset_changes(tz: Tz) -> Vec<DateTime<Utc>> {
        let start = utc("2026-01-01T00:00:00Z");
        let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
        (0..365 * 24)
            .map(|h| start + TimeDelta::hours(h))
            .filter(|t| offset(*t) != offset(*t - TimeDelta::hours(1)))
            .collect()
    }

    #[test]
    fn no_fire_time_is_at_or_before_its_start_around_any_offset_change() {
        let zones = [
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe, // a 30-minute change
            chrono_tz::America::Santiago,
        ];
        let schedules = [
            "0 10,40 2 * * *",
            "0 */15 1,2 * * *",
            "0 40,50 1 * * *",
            "0 0 2 * * *",
            "0 30 1 * * *",
            "0 0 * * * *",
            "0 */30 * * * *",
            "*/20 * * * * *",
        ];
        for tz in zones {
            let changes = offset_changes(tz);
            assert_eq!(changes.len(), 2, "{tz}: {changes:?}");
            for expr in schedules {
                let s = Schedule::new(expr, tz).unwrap();
                for change in &changes {
                    // Every 5 minutes from 3 hours before to 3 hours after the change.
                    for step in 0..72 {
                        let from = *change - TimeDelta::hours(3) + TimeDelta::minutes(5 * step);
                        let runs = s.upcoming(from, 4);
                        assert_eq!(runs.len(), 4, "{expr} in {tz} from {from}");
                        assert!(
                            runs[0].with_timezone(&Utc) > from,
                            "{expr} {tz} {from}: {runs:?}"
                        );
                        assert!(
                            runs.windows(2).all(|w| w[0] < w[1]),
                            "{expr} in {tz} from {from}: {runs:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_fixed_time_in_the_repeated_hour_still_runs_once() {
        let s = Schedule::new("0 30 2 * * *", chrono_tz::Europe::Berlin).unwrap();
        let runs = s.upcoming(utc("2026-10-24T12:00:00Z"), 3);
        let days: Vec<String> = runs
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(
            days,
            ["2026-10-25 02:30", "2026-10-26 02:30", "2026-10-27 02:30"]
        );
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
