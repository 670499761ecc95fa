//! Cron schedules of the seed task, in UTC. The tick a seed belongs to (the latest scheduled
//! time not after now) is part of its checksum, so crossing a tick runs the seed, and what
//! follows it, once; missed ticks are not replayed.

use std::str::FromStr;

use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed cron schedule.
#[derive(Clone, Debug)]
pub struct Schedule(Cron);

impl Schedule {
    /// Parses five fields (minute hour day month weekday), six with seconds first, seven with a
    /// year last, or a descriptor such as `@daily`. The error names what is wrong.
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        Cron::from_str(expression)
            .map(Schedule)
            .map_err(|error| format!("cron schedule {expression:?} is invalid: {error}"))
    }

    /// The latest scheduled time at or before `now`, if any in the past.
    pub fn tick(&self, now: Timestamp) -> Option<Timestamp> {
        self.0
            .find_previous_occurrence(&now.to_zoned(TimeZone::UTC), true)
            .ok()
            .map(|t| t.timestamp())
    }

    /// The first scheduled time after `now`, if any.
    pub fn next(&self, now: Timestamp) -> Option<Timestamp> {
        self.0
            .find_next_occurrence(&now.to_zoned(TimeZone::UTC), false)
            .ok()
            .map(|t| t.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn five_fields_tick_at_the_latest_past_match() {
        let schedule = Schedule::parse("0 3 * * *").unwrap();
        let now = at("2026-11-22T10:15:00Z");
        assert_eq!(schedule.tick(now), Some(at("2026-11-22T03:00:00Z")));
        assert_eq!(schedule.next(now), Some(at("2026-11-23T03:00:00Z")));
    }

    #[test]
    fn a_tick_is_stable_until_the_next_one() {
        let schedule = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            schedule.tick(at("2026-11-22T10:14:59Z")),
            schedule.tick(at("2026-11-22T10:10:00Z"))
        );
        assert_ne!(
            schedule.tick(at("2026-11-22T10:15:00Z")),
            schedule.tick(at("2026-11-22T10:14:59Z"))
        );
    }

    #[test]
    fn seconds_and_descriptors_are_accepted() {
        let every_second = Schedule::parse("* * * * * *").unwrap();
        let now = at("2026-11-22T10:15:07Z");
        assert_eq!(every_second.tick(now), Some(now));
        let daily = Schedule::parse("@daily").unwrap();
        assert_eq!(daily.tick(now), Some(at("2026-11-22T00:00:00Z")));
    }

    #[test]
    fn sunday_is_zero_as_in_standard_cron() {
        // 2026-11-22 is a Sunday.
        let sundays = Schedule::parse("0 0 * * 0").unwrap();
        assert_eq!(
            sundays.tick(at("2026-11-22T10:00:00Z")),
            Some(at("2026-11-22T00:00:00Z"))
        );
    }

    #[test]
    fn invalid_expressions_say_why() {
        let error = Schedule::parse("61 * * * *").unwrap_err();
        assert!(error.contains("61 * * * *"), "{error}");
        assert!(Schedule::parse("not a schedule").is_err());
    }
}
