//! Working hours: the days and hours in which a team commits, and the map between working
//! time and scenario time that makes a commit stream arrive only inside them. Scenario
//! time zero is Monday 00:00 UTC; `timezone` is a fixed UTC offset (no daylight saving).

use super::duration::{HOUR, MINUTE, Nanos};
use serde::{Deserialize, Serialize};

/// One day of scenario time.
pub const DAY: Nanos = 24 * HOUR;
/// One week of scenario time.
pub const WEEK: Nanos = 7 * DAY;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `working_hours: {days: mon-fri, hours: 9-17, timezone: "+01:00"}`. The same hours on
/// every listed day, from `hours`' start (included) to its end (excluded), in local time
/// (UTC plus the offset).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkingHours {
    /// Monday first.
    days: [bool; 7],
    /// Start and end of the working day, since local midnight.
    start: Nanos,
    end: Nanos,
    /// Local time minus UTC, in nanoseconds.
    offset: i64,
    text: RawWorkingHours,
}

/// `working_hours: {days: mon-fri, hours: 9-17, timezone: "+01:00"}`: commits arrive only
/// in these hours of these days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WorkingHours")]
struct RawWorkingHours {
    /// Days and ranges of days, comma-separated: `mon-fri`, `mon,wed,fri`, `fri-mon`.
    #[serde(deserialize_with = "super::strict::text")]
    days: String,
    /// `<start>-<end>` in 24-hour local time: `9-17`, `8:30-16:30` (the end excluded).
    #[serde(deserialize_with = "super::strict::text")]
    hours: String,
    /// A fixed UTC offset: `UTC` (the default), `+01:00`, `-05:00` (no daylight saving).
    #[serde(
        default,
        deserialize_with = "super::strict::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    timezone: Option<String>,
}

impl Serialize for WorkingHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

/// The schema of what [`RawWorkingHours`] reads.
impl schemars::JsonSchema for WorkingHours {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WorkingHours".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawWorkingHours::json_schema(g)
    }
}

impl<'de> Deserialize<'de> for WorkingHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawWorkingHours::deserialize(d)?;
        WorkingHours::new(&raw.days, &raw.hours, raw.timezone.as_deref())
            .map_err(serde::de::Error::custom)
    }
}

fn day(text: &str) -> Result<usize, String> {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let t = text.trim().to_ascii_lowercase();
    (0..7)
        .find(|&i| t == DAY_NAMES[i] || t == FULL[i])
        .ok_or_else(|| {
            format!(
                "`{}` is not a day; expected mon, tue, wed, thu, fri, sat or sun",
                text.trim()
            )
        })
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                // A range wraps around the week end: `fri-mon` is Friday to Monday.
                let (mut i, j) = (day(a)?, day(b)?);
                loop {
                    days[i] = true;
                    if i == j {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// `9`, `17`, `9:30` or `24` as time since midnight.
fn clock(text: &str, whole: &str) -> Result<Nanos, String> {
    let bad = || {
        format!(
            "`{whole}` is not a span of hours; expected `<start>-<end>` in 24-hour time, like `9-17` or `8:30-16:30`"
        )
    };
    let (h, m) = match text.trim().split_once(':') {
        Some((h, m)) => (h, m),
        None => (text.trim(), "0"),
    };
    let h: u64 = h.parse().map_err(|_| bad())?;
    let m: u64 = m.parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * HOUR + m * MINUTE)
}

fn parse_offset(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let bad = || {
        format!(
            "`{text}` is not a UTC offset; expected `UTC` or `+HH:MM`/`-HH:MM`, like `+01:00` (IANA names such as Europe/Berlin need daylight-saving rules, which pushpull does not model)"
        )
    };
    let t = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("utc"))
        .unwrap_or(t);
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1i64, &t[1..]),
        Some(b'-') => (-1i64, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    // Real offsets run from UTC-12:00 to UTC+14:00.
    if !(0..=14).contains(&h) || !(0..60).contains(&m) || h * 60 + m > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * (h * HOUR as i64 + m * MINUTE as i64))
}

impl WorkingHours {
    /// Parses `days` (`mon-fri`, `mon,wed,fri`, `sat-sun`), `hours` (`9-17`,
    /// `8:30-16:30`; not across midnight) and an optional UTC offset.
    pub fn new(days: &str, hours: &str, timezone: Option<&str>) -> Result<WorkingHours, String> {
        let d = parse_days(days)?;
        let (a, b) = hours.split_once('-').ok_or_else(|| {
            format!("`{hours}` is not a span of hours; expected `<start>-<end>`, like `9-17`")
        })?;
        let (start, end) = (clock(a, hours)?, clock(b, hours)?);
        if end <= start {
            return Err(format!(
                "`{hours}` ends before it starts; working hours run within one day (a night shift across midnight is not supported yet)"
            ));
        }
        let offset = match timezone {
            Some(t) => parse_offset(t)?,
            None => 0,
        };
        Ok(WorkingHours {
            days: d,
            start,
            end,
            offset,
            text: RawWorkingHours {
                days: days.to_string(),
                hours: hours.to_string(),
                timezone: timezone.map(str::to_string),
            },
        })
    }

    /// Working time in one working day.
    pub fn day_length(&self) -> Nanos {
        self.end - self.start
    }

    /// Working days in a week.
    pub fn days_per_week(&self) -> u64 {
        self.days.iter().filter(|&&d| d).count() as u64
    }

    /// Working time in one week.
    pub fn per_week(&self) -> Nanos {
        self.days_per_week() * self.day_length()
    }

    /// Local time (since a local Monday 00:00, within the first week) at scenario time 0.
    fn local_zero(&self) -> Nanos {
        self.offset.rem_euclid(WEEK as i64) as Nanos
    }

    /// Working time in local time `[0, local)`.
    fn working_before(&self, local: u128) -> u128 {
        let week = WEEK as u128;
        let (weeks, mut rest) = (local / week, local % week);
        let mut w = weeks * self.per_week() as u128;
        for on in self.days {
            let into = rest.min(DAY as u128);
            if on {
                let (s, e) = (self.start as u128, self.end as u128);
                w += into.clamp(s, e) - s;
            }
            rest -= into;
        }
        w
    }

    /// The local instant, inside working hours, at which `w` of working time has passed.
    fn local_at(&self, w: u128) -> u128 {
        let per_week = self.per_week() as u128;
        let len = self.day_length() as u128;
        let (weeks, rest) = (w / per_week, w % per_week);
        let (k, within) = (rest / len, rest % len);
        let day = self
            .days
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .nth(k as usize)
            .map_or(0, |(i, _)| i) as u128;
        weeks * WEEK as u128 + day * DAY as u128 + self.start as u128 + within
    }

    /// Working time in scenario time `[0, t)`.
    pub fn working_time(&self, t: Nanos) -> u128 {
        let l0 = self.local_zero() as u128;
        self.working_before(l0 + t as u128) - self.working_before(l0)
    }

    /// The scenario time at which `w` of working time has passed since time 0: the map
    /// that turns a homogeneous process in working time into one that runs only inside
    /// working hours. Saturates at `Nanos::MAX`.
    pub fn scenario_time(&self, w: u128) -> Nanos {
        let l0 = self.local_zero() as u128;
        let local = self.local_at(self.working_before(l0) + w);
        Nanos::try_from(local.saturating_sub(l0)).unwrap_or(Nanos::MAX)
    }

    /// Whether scenario time `t` falls inside working hours.
    pub fn is_working(&self, t: Nanos) -> bool {
        let local = (self.local_zero() as u128 + t as u128) % WEEK as u128;
        let (d, into) = (
            (local / DAY as u128) as usize,
            (local % DAY as u128) as Nanos,
        );
        self.days[d] && (self.start..self.end).contains(&into)
    }

    /// Working days in scenario time `[0, t)`: working time over a working day's length
    /// (so a horizon ending at noon of a 9-17 day counts three eighths of it).
    pub fn working_days(&self, t: Nanos) -> f64 {
        self.working_time(t) as f64 / self.day_length() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wh(days: &str, hours: &str, tz: Option<&str>) -> WorkingHours {
        WorkingHours::new(days, hours, tz).unwrap()
    }

    #[test]
    fn a_week_of_nine_to_five_holds_forty_hours() {
        let w = wh("mon-fri", "9-17", None);
        assert_eq!(w.per_week(), 40 * HOUR);
        assert_eq!(w.working_time(WEEK), 40 * HOUR as u128);
        assert_eq!(w.working_time(9 * HOUR), 0);
        assert_eq!(w.working_time(10 * HOUR), HOUR as u128);
        assert_eq!(w.working_days(2 * WEEK), 10.0);
        assert_eq!(w.working_days(DAY + 13 * HOUR), 1.5);
    }

    #[test]
    fn working_time_maps_to_monday_morning_and_skips_nights_and_weekends() {
        let w = wh("mon-fri", "9-17", None);
        assert_eq!(w.scenario_time(0), 9 * HOUR);
        assert_eq!(w.scenario_time(HOUR as u128), 10 * HOUR);
        // The ninth working hour is Tuesday 10:00.
        assert_eq!(w.scenario_time(9 * HOUR as u128), DAY + 10 * HOUR);
        // The 41st is the next Monday 10:00.
        assert_eq!(w.scenario_time(41 * HOUR as u128), WEEK + 10 * HOUR);
    }

    #[test]
    fn the_offset_moves_local_hours_against_utc() {
        // 9-17 at UTC+01:00 is 8-16 UTC; at UTC-05:00 it is 14-22 UTC.
        let east = wh("mon-fri", "9-17", Some("+01:00"));
        assert_eq!(east.scenario_time(0), 8 * HOUR);
        assert!(east.is_working(8 * HOUR) && !east.is_working(16 * HOUR));
        let west = wh("mon-fri", "9-17", Some("-05:00"));
        assert_eq!(west.scenario_time(0), 14 * HOUR);
        assert!(west.is_working(21 * HOUR) && !west.is_working(22 * HOUR));
        // At UTC+14 time zero is Monday 14:00 local: three working hours are left that
        // day, and the fourth is Tuesday 09:00 local, Monday 19:00 UTC.
        let far = wh("mon-fri", "9-17", Some("+14:00"));
        assert_eq!(far.scenario_time(0), 0);
        assert_eq!(far.scenario_time(3 * HOUR as u128), 19 * HOUR);
        assert_eq!(far.working_time(WEEK), 40 * HOUR as u128);
    }

    #[test]
    fn scenario_time_inverts_working_time_inside_hours() {
        let w = wh("mon,wed,sat", "8:30-16:45", Some("-03:30"));
        for k in 0..500u128 {
            let wt = k * 7 * MINUTE as u128 + 13;
            let t = w.scenario_time(wt);
            assert!(w.is_working(t), "{wt} -> {t}");
            assert_eq!(w.working_time(t), wt);
        }
    }

    #[test]
    fn days_and_hours_refuse_what_they_cannot_mean() {
        for (days, hours, tz, needle) in [
            ("mon-fry", "9-17", None, "`fry` is not a day"),
            ("mon-fri", "9", None, "`<start>-<end>`"),
            ("mon-fri", "17-9", None, "ends before it starts"),
            ("mon-fri", "9-25", None, "24-hour"),
            ("mon-fri", "9-17", Some("Europe/Berlin"), "UTC offset"),
            ("mon-fri", "9-17", Some("+15:00"), "UTC offset"),
        ] {
            let e = WorkingHours::new(days, hours, tz).unwrap_err();
            assert!(e.contains(needle), "{days} {hours} {tz:?}: {e}");
        }
        assert_eq!(wh("fri-mon", "0-24", None).days_per_week(), 4);
        assert_eq!(wh("Monday,sun", "9-17", Some("UTC")).days_per_week(), 2);
    }
}
