//! Durations as the scenario file writes them (`90s`, `2m`, `1h30m`) and the integer
//! nanoseconds the engine runs on. Virtual time never needs more than u64 nanoseconds
//! (584 years; a scenario's durations stop at 100 years, see [`super::bounds::MAX_SPAN`]),
//! and integers keep event ordering exact and deterministic.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Nanoseconds since the start of a run (a point) or between two points (a span).
pub type Nanos = u64;

pub const SECOND: Nanos = 1_000_000_000;
pub const MINUTE: Nanos = 60 * SECOND;
pub const HOUR: Nanos = 60 * MINUTE;

/// Seconds as a float, for reports.
pub fn secs(n: Nanos) -> f64 {
    n as f64 / SECOND as f64
}

/// Nanoseconds from seconds; negative and NaN inputs clamp to zero.
pub fn from_secs_f64(s: f64) -> Nanos {
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= (u64::MAX / SECOND) as f64 {
        u64::MAX
    } else {
        (s * SECOND as f64).round() as Nanos
    }
}

/// A duration read from a scenario. Deserializes from a humantime string and refuses
/// negative or malformed values with a message that says what is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Nanos);

impl Dur {
    pub fn nanos(self) -> Nanos {
        self.0
    }
    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!(
                "`{t}` is negative; expected a duration of zero or more, like `90s`, `2m` or `1h30m`"
            ));
        }
        if t == "0" {
            return Ok(Dur(0));
        }
        let too_long = || {
            format!(
                "`{t}` is too long; a duration may be at most 100 years (the simulator counts time in nanoseconds, which run out at 584 years, and a time plus a delay must stay below that)"
            )
        };
        match humantime::parse_duration(t) {
            Ok(d) => match u64::try_from(d.as_nanos()) {
                Ok(n) if n <= super::bounds::MAX_SPAN => Ok(Dur(n)),
                _ => Err(too_long()),
            },
            // Only a unit humantime does not know is worth repeating ("unknown time unit
            // \"hrs\", supported units: ..."); a character position is parser talk.
            Err(e @ humantime::DurationError::UnknownUnit { .. }) => Err(format!(
                "`{t}` is not a duration ({e}); expected a duration like `90s`, `2m` or `1h30m`"
            )),
            Err(_) => Err(format!(
                "`{t}` is not a duration; expected a duration: a number and a unit, like `90s`, `2m` or `1h30m`"
            )),
        }
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        write!(
            f,
            "{}",
            humantime::format_duration(std::time::Duration::from_nanos(self.0))
        )
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like `90s`, `2m` or `1h30m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                if v == 0 {
                    Ok(Dur(0))
                } else {
                    Err(E::custom(format!(
                        "`{v}` has no unit; expected a duration like `{}s` or `{}m`",
                        v.unsigned_abs(),
                        v.unsigned_abs()
                    )))
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit; expected a duration like `{v}s`"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humantime_forms() {
        assert_eq!(Dur::parse("90s").unwrap().0, 90 * SECOND);
        assert_eq!(Dur::parse("1h30m").unwrap().0, 90 * MINUTE);
        assert_eq!(Dur::parse("250ms").unwrap().0, 250_000_000);
        assert_eq!(Dur::parse("0").unwrap().0, 0);
    }

    #[test]
    fn refuses_negative_and_garbage() {
        assert!(Dur::parse("-5m").unwrap_err().contains("negative"));
        assert!(
            Dur::parse("soon")
                .unwrap_err()
                .contains("expected a duration")
        );
    }

    #[test]
    fn durations_over_a_hundred_years_are_refused_with_the_limit() {
        assert!(Dur::parse("100y").is_ok());
        for t in ["584y", "500y", "101y", "100y 1s"] {
            let e = Dur::parse(t).unwrap_err();
            assert!(e.contains("at most 100 years"), "{t}: {e}");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["90s", "2m", "1h 30m", "0s", "250ms"] {
            let d = Dur::parse(s).unwrap();
            assert_eq!(Dur::parse(&d.to_string()).unwrap(), d);
        }
    }
}
