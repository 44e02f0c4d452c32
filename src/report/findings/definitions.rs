//! Definitions of every metric, counter and fault kind, as the report's methodology section
//! prints them. They are written once, in pushpull-core beside the types they define.

/// Each metric's definition (as the README's "What it measures" table), for the methodology section.
pub const DEFINITIONS: [(&str, &str); 21] = crate::metric::Metric::DEFINITIONS;

/// Each counter's definition, in `measure::Counters::named()` order (a test checks both
/// lists name the same counters).
pub const COUNTER_DEFINITIONS: [(&str, &str); 11] = crate::measure::Counters::DEFINITIONS;

/// Each fault kind's definition, for the methodology section.
pub const FAULT_DEFINITIONS: [(&str, &str); 8] = crate::scenario::fault::DEFINITIONS;

#[cfg(test)]
mod tests {
    use super::COUNTER_DEFINITIONS;
    use crate::measure::Counters;

    #[test]
    fn every_counter_has_a_definition_in_counter_order() {
        let defined: Vec<&str> = COUNTER_DEFINITIONS.iter().map(|(name, _)| *name).collect();
        let counted: Vec<&str> = Counters::default()
            .named()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(defined, counted);
    }
}
