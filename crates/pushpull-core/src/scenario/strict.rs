//! Strictly typed scalars. serde_yaml_ng hands any scalar to a `String` (`name: true`
//! becomes "true") and takes tagged or float-looking numbers for integers (`!!float 1`,
//! `1e9`); these types ask for the value as it was written and refuse the wrong kind.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::num::NonZeroU32;

/// What a scalar was written as, for messages.
fn kind_of_bool(v: bool) -> String {
    format!("`{v}` is a true/false value")
}

/// Text: a YAML string (quoted or plain), never a number or boolean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Err(E::custom(format!(
                    "{} where text belongs; quote it (\"{v}\") if you mean the text",
                    kind_of_bool(v)
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Err(E::custom(format!(
                    "`{v}` is a number where text belongs; quote it (\"{v}\") if you mean the text"
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Err(E::custom(format!(
                    "`{v}` is a number where text belongs; quote it (\"{v}\") if you mean the text"
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Err(E::custom(format!(
                    "`{v}` is a number where text belongs; quote it if you mean the text"
                )))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
                Err(E::custom("empty (null) where text belongs"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole number written as a YAML integer: not a float (`1e9`, `1.0`, `!!float 1`),
/// not a string (`"3"`), not a boolean, not negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole(pub u64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole(d, "of 0 or more")
    }
}

/// A [`Whole`]; `range` says in messages which ones the key takes ("of 0 or more", "of
/// at least 1").
fn whole<'de, D: Deserializer<'de>>(d: D, range: &'static str) -> Result<Whole, D::Error> {
    struct V(&'static str);
    impl serde::de::Visitor<'_> for V {
        type Value = Whole;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a whole number {}, like 3", self.0)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Whole, E> {
            Ok(Whole(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Whole, E> {
            u64::try_from(v).map(Whole).map_err(|_| {
                E::custom(format!(
                    "`{v}` is negative; expected a whole number {}, like 3",
                    self.0
                ))
            })
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Whole, E> {
            Err(E::custom(format!(
                "`{v}` is written as a decimal number; expected a whole number {} written with digits only, like 3",
                self.0
            )))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Whole, E> {
            Err(E::custom(format!(
                "`{v}` is text; expected a whole number {} written with digits only and no quotes, like 3",
                self.0
            )))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Whole, E> {
            Err(E::custom(format!(
                "{}; expected a whole number {}, like 3",
                kind_of_bool(v),
                self.0
            )))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Whole, E> {
            Err(E::custom(format!(
                "the value is empty; expected a whole number {}, like 3",
                self.0
            )))
        }
    }
    d.deserialize_any(V(range))
}

/// A count of at least 1 that fits a u32 (its own bound is checked by validation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count(pub NonZeroU32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = whole(d, "of at least 1")?.0;
        let n = u32::try_from(n).map_err(|_| {
            serde::de::Error::custom(format!("`{n}` is too large (the limit is {})", u32::MAX))
        })?;
        NonZeroU32::new(n).map(Count).ok_or_else(|| {
            serde::de::Error::custom(
                "`0` is not allowed; expected a whole number of at least 1, like 3",
            )
        })
    }
}

/// A number index (a cluster or an app) that fits a u32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index(pub u32);

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = Whole::deserialize(d)?.0;
        u32::try_from(n).map(Index).map_err(|_| {
            serde::de::Error::custom(format!("`{n}` is too large (the limit is {})", u32::MAX))
        })
    }
}

/// A real number written as a YAML number (integer or float), not as text or boolean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Real(pub f64);

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Real;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number like 0.5")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Real, E> {
                Ok(Real(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Real, E> {
                Err(E::custom(format!(
                    "`{v}` is text; expected a number without quotes, like 0.5"
                )))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Real, E> {
                Err(E::custom(format!(
                    "{}; expected a number like 0.5",
                    kind_of_bool(v)
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// `#[serde(deserialize_with)]` for a `NonZeroU32` field of a public struct.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    Count::deserialize(d).map(|c| c.0)
}

/// `#[serde(deserialize_with)]` for a `String` field.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

/// `#[serde(deserialize_with)]` for an optional `String` field (with `default`).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Text>::deserialize(d).map(|t| t.map(|t| t.0))
}

/// `#[serde(deserialize_with)]` for an optional u32 count of 1 or more (with `default`).
pub fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NonZeroU32>, D::Error> {
    Option::<Count>::deserialize(d).map(|t| t.map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Doc {
        #[serde(default, deserialize_with = "opt_text")]
        text: Option<String>,
        #[serde(default, deserialize_with = "opt_count")]
        count: Option<NonZeroU32>,
        #[serde(default)]
        real: Option<Real>,
    }

    fn de(y: &str) -> Result<Doc, String> {
        serde_yaml_ng::from_str(y).map_err(|e| e.to_string())
    }

    #[test]
    fn text_refuses_booleans_and_numbers_but_takes_quoted_ones() {
        assert!(de("text: true").unwrap_err().contains("true/false"));
        assert!(de("text: 123").unwrap_err().contains("number"));
        assert!(de("text: 1.5").unwrap_err().contains("number"));
        assert_eq!(de("text: \"true\"").unwrap().text.as_deref(), Some("true"));
        assert_eq!(de("text: abc").unwrap().text.as_deref(), Some("abc"));
    }

    #[test]
    fn counts_refuse_floats_text_booleans_zero_and_overflow() {
        for y in [
            "count: !!float 1",
            "count: 1e9",
            "count: 1.0",
            "count: \"3\"",
            "count: true",
            "count: 0",
            "count: -1",
            "count: 4294967296",
        ] {
            assert!(de(y).is_err(), "{y} accepted");
        }
        assert_eq!(de("count: 7").unwrap().count.map(|c| c.get()), Some(7));
    }

    #[test]
    fn reals_take_integers_and_floats_not_text() {
        assert_eq!(de("real: 1").unwrap().real, Some(Real(1.0)));
        assert_eq!(de("real: 0.25").unwrap().real, Some(Real(0.25)));
        assert!(de("real: \"0.5\"").unwrap_err().contains("text"));
        assert!(de("real: yes").is_err());
    }
}
