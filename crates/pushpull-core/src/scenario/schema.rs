//! The scenario format as a JSON Schema (`pushpull schema`, docs/scenario.schema.json), for
//! editors that complete and check keys. It is derived with schemars from the types the
//! parser itself reads (the `Raw*` structs, all `deny_unknown_fields`), so a key added there
//! appears here; the scalars the parser reads by hand (durations, counts, percentages, the
//! word `none`, the kinds of distributions, arrivals and faults) have hand-written schemas
//! below that accept what their `Deserialize` accepts.

use super::bounds;
use super::duration::Dur;
use super::fleet::CountOr;
use super::models::{NoneOr, Probability, RawPull, RawPush};
use super::strict::{Count, Index, Real, Text, Whole};
use super::{Bound, FigureName, IntOrPercent, Percent, RawScenario};
use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};
use std::borrow::Cow;

/// The JSON Schema (draft-07, which editors' YAML language servers read best) of a
/// scenario file.
pub fn scenario_schema() -> Value {
    let settings = SchemaSettings::draft07().with_transform(U32Maximum);
    settings
        .into_generator()
        .into_root_schema_for::<RawScenario>()
        .to_value()
}

/// [`scenario_schema`] as pretty JSON with keys in a fixed order and a final newline, as
/// `pushpull schema` prints it and docs/scenario.schema.json holds it.
pub fn scenario_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&sorted(scenario_schema()))
        .expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Object keys in byte order at every depth, whatever order serde_json's map keeps; a
/// description's line breaks (from wrapped doc comments) become spaces, paragraph breaks
/// stay, so an editor's hover shows running text.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let pairs = pairs.into_iter().map(|(k, v)| {
                let v = match (k.as_str(), v) {
                    ("description", Value::String(d)) => Value::String(unwrap_lines(&d)),
                    (_, v) => sorted(v),
                };
                (k, v)
            });
            Value::Object(pairs.collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// schemars writes u32 as `{type: integer, format: uint32, minimum: 0}`; the parser also
/// refuses values above u32::MAX, so the schema says so.
#[derive(Clone)]
struct U32Maximum;

impl Transform for U32Maximum {
    fn transform(&mut self, schema: &mut Schema) {
        if schema.get("format").and_then(Value::as_str) == Some("uint32") {
            schema.insert("maximum".into(), u32::MAX.into());
        }
        transform_subschemas(self, schema);
    }
}

/// A humantime duration as the parser reads it (`90s`, `2m`, `1h30m`, `1.5h`, `0`): one or
/// more numbers each followed by a unit, spaces allowed between them.
pub const DURATION_PATTERN: &str = r"^\s*(?:0|(?:[0-9]+(?:\.[0-9]+)?\s*(?:nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)\s*)+)$";

const DURATION_HELP: &str = "A duration: a number and a unit, or several (`90s`, `2m`, `1h30m`, `250ms`, `1.5h`); units ns, us, ms, s, m, h, d, w, M (30.44 days), y (365.25 days). At most 100 years; `0` is zero.";

/// A DNS-1123 label of at most `max` characters.
fn dns_label(max: usize, what: &str) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "minLength": 1,
        "maxLength": max,
        "description": format!("{what}: 1 to {max} lowercase letters, digits and `-`, starting and ending with a letter or digit (a DNS-1123 label)."),
    })
}

/// A string that is one of `values`.
fn one_of_words(values: &[&str], description: &str) -> Schema {
    json_schema!({
        "type": "string",
        "enum": values,
        "description": description,
    })
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": DURATION_HELP,
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "integer", "enum": [0]},
            ],
        })
    }
}

/// A duration written as text only (a distribution's shorthand `2s`: a bare `0` is not one).
pub struct DurationText;

impl JsonSchema for DurationText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DurationText".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": DURATION_PATTERN})
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string"})
    }
}

impl JsonSchema for Whole {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Whole".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0})
    }
}

impl JsonSchema for Count {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Count".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": u32::MAX})
    }
}

impl JsonSchema for Index {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Index".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
    }
}

impl JsonSchema for Real {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Real".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "number"})
    }
}

impl JsonSchema for Probability {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Probability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share from 0 to 1, as a number (0.05) or a percentage up to 100% (`5%`).",
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {
                    "type": "string",
                    "pattern": r"^\s*\+?0*(?:100(?:\.0*)?|[0-9]{1,2}(?:\.[0-9]*)?|\.[0-9]+)\s*%\s*$",
                },
            ],
        })
    }
}

impl JsonSchema for Percent {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*%\s*$",
                },
                {"type": "number", "minimum": 0},
            ],
            "description": "A share of 0 or more: a percentage written with `%`, like `10%` or `2.5%`, or a fraction like 0.1.",
        })
    }
}

impl JsonSchema for FigureName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "FigureName".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        use crate::measure::summary::{BAD_COUNTERS, SHARES};
        let mut any = vec![g.subschema_for::<crate::metric::Metric>().to_value()];
        for (name, def) in crate::measure::Counters::DEFINITIONS {
            if BAD_COUNTERS.contains(&name) {
                any.push(json!({"const": name, "type": "string",
                    "description": format!("Counter: {def} Bounded with a whole number.")}));
            }
        }
        for (name, top, bottom) in SHARES {
            any.push(json!({"const": name, "type": "string",
                "description": format!("Share: {top} over {}, from 0 to 1. Bounded with a number like 0.05 or 5%.", bottom.join(" + "))}));
        }
        for (name, of) in crate::measure::summary::MEASURED_SHARES {
            any.push(json!({"const": name, "type": "string",
                "description": format!("Share of {of}, from 0 to 1. Bounded with a number like 0.05 or 5%.")}));
        }
        json_schema!({
            "description": "A metric (bounded at a quantile), a counter where more is worse, or a share.",
            "anyOf": any,
        })
    }
}

impl JsonSchema for Bound {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Bound".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration like `5m` for a metric, a whole number like 3 for a counter, a share like 0.05 or `5%` for a share.",
            "anyOf": [
                g.subschema_for::<Dur>(),
                {"type": "number", "minimum": 0},
                g.subschema_for::<Percent>(),
            ],
        })
    }
}

/// `maxSurge`: as [`IntOrPercent`], but a percentage may exceed 100%.
pub fn surge_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A whole number of pods (`1`) or a whole percentage of the replicas (`25%`, above 100% allowed), as Kubernetes' IntOrString.",
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": u32::MAX},
            {"type": "string", "pattern": r"^\s*(?:\+?[0-9]{1,10}|-0+)\s*%\s*$"},
        ],
    })
}

impl JsonSchema for IntOrPercent {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "IntOrPercent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A whole number of pods (`1`) or a whole percentage of the replicas from 0% to 100% (`25%`), as Kubernetes' IntOrString.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                {"type": "string", "pattern": r"^\s*(?:\+?0*(?:100|[1-9]?[0-9])|-0+)\s*%\s*$"},
            ],
        })
    }
}

impl<T: JsonSchema> JsonSchema for NoneOr<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("NoneOr_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {"enum": ["none", null], "description": "`none`: switched off."},
                g.subschema_for::<T>(),
            ],
        })
    }
}

impl<T: JsonSchema> JsonSchema for CountOr<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("CountOr_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": u32::MAX, "description": "How many, numbered from 0."},
                {"type": "array", "items": g.subschema_for::<T>(), "description": "Each one by name."},
            ],
        })
    }
}

/// `schema: 1`, the only scenario schema version this pushpull reads.
pub struct SchemaVersion;

impl JsonSchema for SchemaVersion {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "enum": [1],
            "description": "The scenario format's version: 1 (optional).",
        })
    }
}

/// The scenario's name, a DNS-1123 label.
pub struct ScenarioName;

impl JsonSchema for ScenarioName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ScenarioName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        dns_label(
            bounds::MAX_NAME,
            "The scenario's name; it names the folder reports/<name>/ and the live namespaces",
        )
    }
}

/// The kinds of distributions `Dist` reads (its `TryFrom<RawDist>`).
pub struct DistKind;

/// Every `dist:` the parser reads; `dist.rs` matches on the same words.
pub const DIST_KINDS: [&str; 6] = [
    "fixed",
    "uniform",
    "exponential",
    "normal",
    "lognormal",
    "empirical",
];

impl JsonSchema for DistKind {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DistKind".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of_words(
            &DIST_KINDS,
            "The distribution: fixed (value), uniform (min, max), exponential (mean), normal (mean, sd; truncated at zero), lognormal (median, p99) or empirical (samples).",
        )
    }
}

/// The keys each distribution takes besides `dist`, as `Dist::try_from` allows them (a
/// test below checks every key of every kind against the parser).
pub const DIST_KEYS: [(&str, &[&str]); 6] = [
    ("fixed", &["value"]),
    ("uniform", &["min", "max"]),
    ("exponential", &["mean"]),
    ("normal", &["mean", "sd"]),
    ("lognormal", &["median", "p99"]),
    ("empirical", &["samples"]),
];

/// The keys each fault kind takes besides `kind`, as `fault.rs` allows them (checked
/// against the parser by a test below).
pub const FAULT_KEYS: [(&str, &[&str]); 8] = [
    (
        "drift",
        &["change", "at", "arrival", "mean_interval", "cluster", "app"],
    ),
    ("bad_release", &["at", "rollback_after", "app"]),
    ("git_outage", &["at", "duration"]),
    (
        "api_brownout",
        &["at", "duration", "latency", "error_rate", "cluster"],
    ),
    ("partition", &["between", "at", "duration"]),
    ("reconciler_crash", &["at", "restart_after", "cluster"]),
    ("runner_outage", &["at", "duration"]),
    ("cluster_loss", &["cluster", "at", "rebuild_after"]),
];

/// `#[schemars(transform)]` of the distribution map: each kind refuses the other kinds'
/// keys, as the parser does.
pub fn dist_keys(schema: &mut Schema) {
    keys_of_kinds(schema, "dist", &DIST_KEYS);
}

/// `#[schemars(transform)]` of a fault: each kind refuses the other kinds' keys.
pub fn fault_keys(schema: &mut Schema) {
    keys_of_kinds(schema, "kind", &FAULT_KEYS);
}

/// For each kind in `table`, an `if {discriminator: kind} then {other keys: false}`: every
/// key of the derived `properties` that the kind does not list is refused, so a key added
/// to the struct later is refused for every kind until the table names it (and the test
/// below says so).
fn keys_of_kinds(schema: &mut Schema, discriminator: &str, table: &[(&str, &[&str])]) {
    let keys: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let rules: Vec<Value> = table
        .iter()
        .map(|(kind, allowed)| {
            let refused: serde_json::Map<String, Value> = keys
                .iter()
                .filter(|k| k.as_str() != discriminator && !allowed.contains(&k.as_str()))
                .map(|k| (k.clone(), Value::Bool(false)))
                .collect();
            json!({
                "if": {"properties": {discriminator: {"const": kind}}, "required": [discriminator]},
                "then": {"properties": refused},
            })
        })
        .collect();
    schema.insert("allOf".into(), Value::Array(rules));
}

/// The arrival processes of `workload.commits`.
pub struct ArrivalKind;

/// Every `arrival:` of `workload.commits` the parser reads.
pub const ARRIVAL_KINDS: [&str; 3] = ["poisson", "fixed", "replay"];

impl JsonSchema for ArrivalKind {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ArrivalKind".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of_words(
            &ARRIVAL_KINDS,
            "How commits arrive: poisson (mean_interval, optionally working_hours), fixed (interval, optionally working_hours) or replay (repo and branch: the commit times of a git branch).",
        )
    }
}

/// The fault kinds `fault.rs` reads.
pub struct FaultKind;

/// Every fault `kind:` the parser reads.
pub const FAULT_KINDS: [&str; 8] = [
    "drift",
    "bad_release",
    "git_outage",
    "api_brownout",
    "partition",
    "reconciler_crash",
    "runner_outage",
    "cluster_loss",
];

impl JsonSchema for FaultKind {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "FaultKind".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of_words(
            &FAULT_KINDS,
            "The fault: drift (change; at, or arrival: poisson with mean_interval; cluster, app), bad_release (at, rollback_after, app), git_outage (at, duration), api_brownout (at, duration, latency, error_rate, cluster), partition (between, at, duration), reconciler_crash (at, restart_after, cluster), runner_outage (at, duration) or cluster_loss (cluster, at, rebuild_after).",
        )
    }
}

/// A drift fault's repeating arrival.
pub struct DriftArrival;

impl JsonSchema for DriftArrival {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DriftArrival".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        one_of_words(
            &["poisson"],
            "`poisson`: the drift happens again and again, `mean_interval` apart on average (instead of once `at` a time).",
        )
    }
}

/// A partition's two sides.
pub struct CutSides;

impl JsonSchema for CutSides {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "CutSides".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": {"type": "string", "enum": ["pipeline", "reconciler", "cluster", "git"]},
            "minItems": 2,
            "maxItems": 2,
            "description": "The two sides of the cut: [pipeline, cluster], [pipeline, git], [reconciler, git] or [reconciler, cluster].",
        })
    }
}

/// A cluster or app name (DNS-1123 label).
pub struct Label;

impl JsonSchema for Label {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Label".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        dns_label(bounds::MAX_NAME, "A name")
    }
}

/// `models:`: each setup under its name. The parser reads it by hand (a setup's `kind`
/// decides which keys it may hold), so the schema is put together here from the derived
/// push and pull settings.
pub fn models(g: &mut SchemaGenerator) -> Schema {
    let push = setup::<RawPush>(g, "push", "PushSetup");
    let pull = setup::<RawPull>(g, "pull", "PullSetup");
    let push_settings = g.subschema_for::<RawPush>();
    let pull_settings = g.subschema_for::<RawPull>();
    let mut name = dns_label(bounds::MAX_SETUP_NAME, "A setup's name");
    name.remove("type");
    // The description is the `models` field's doc comment.
    json_schema!({
        "anyOf": [
            {"type": "null"},
            {
                "type": "object",
                "maxProperties": bounds::MAX_SETUPS,
                "propertyNames": name,
                "properties": {
                    "push": {"anyOf": [{"type": "null"}, push_settings, push.clone(), pull.clone()]},
                    "pull": {"anyOf": [{"type": "null"}, pull_settings, pull.clone(), push.clone()]},
                },
                "additionalProperties": {"anyOf": [push, pull]},
            },
        ],
    })
}

/// The definition `def` of a setup of `kind`: `T`'s settings plus the required `kind`.
fn setup<T: JsonSchema>(g: &mut SchemaGenerator, kind: &str, def: &str) -> Schema {
    if !g.definitions().contains_key(def) {
        let mut s = T::json_schema(g);
        let o = s.ensure_object();
        o.insert(
            "description".into(),
            json!(format!(
                "A {kind} setup: `kind: {kind}` and its settings (a preset, then the keys that override it)."
            )),
        );
        if let Some(Value::Object(props)) = o.get_mut("properties") {
            props.insert(
                "kind".into(),
                json!({"const": kind, "description": "push: a CI pipeline applies manifests; pull: a reconciler watches git."}),
            );
        }
        match o.get_mut("required") {
            Some(Value::Array(r)) => r.push(json!("kind")),
            _ => {
                o.insert("required".into(), json!(["kind"]));
            }
        }
        g.definitions_mut().insert(def.into(), s.to_value());
    }
    Schema::new_ref(format!("#/definitions/{def}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(yaml: &str) -> Result<super::super::Scenario, String> {
        super::super::Scenario::parse(yaml, "t.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_the_schema_lists_is_one_the_parser_knows() {
        for d in DIST_KINDS {
            let e = parses(&format!(
                "name: t\nduration: 1h\nci: {{build: {{dist: {d}}}}}\n"
            ))
            .unwrap_err();
            assert!(!e.contains("unknown distribution"), "{d}: {e}");
        }
        for a in ARRIVAL_KINDS {
            let e = parses(&format!(
                "name: t\nduration: 1h\nworkload: {{commits: {{arrival: {a}, interval: 0s, mean_interval: 0s}}}}\n"
            ))
            .unwrap_err();
            assert!(!e.contains("unknown arrival"), "{a}: {e}");
        }
        for k in FAULT_KINDS {
            let e = parses(&format!(
                "name: t\nduration: 1h\nfaults: [{{kind: {k}, restart_after: 1s, rollback_after: 1s, rebuild_after: 1s, duration: 1s}}]\n"
            ))
            .unwrap_err();
            assert!(!e.contains("unknown fault kind"), "{k}: {e}");
        }
    }

    /// The words of "expected a, b or c" at the end of a refusal.
    fn expected(e: &str) -> Vec<String> {
        let e = e.split(" at line ").next().unwrap_or(e);
        let list = e.rsplit_once("expected ").expect("an `expected` list").1;
        list.replace(" or ", ", ")
            .split(", ")
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
            .map(str::to_string)
            .collect()
    }

    /// A kind added to the parser (its refusal of an unknown kind lists them all) is one
    /// the schema lists too.
    #[test]
    fn the_kind_lists_are_the_ones_the_parser_names() {
        let dist = serde_yaml_ng::from_str::<super::super::Dist>("{dist: zzz}")
            .unwrap_err()
            .to_string();
        assert_eq!(expected(&dist), DIST_KINDS, "{dist}");
        assert_eq!(
            DIST_KEYS.map(|(k, _)| k),
            DIST_KINDS,
            "DIST_KEYS lists every kind"
        );
        let fault = serde_yaml_ng::from_str::<super::super::fault::Addressed>("{kind: zzz}")
            .unwrap_err()
            .to_string();
        assert_eq!(expected(&fault), FAULT_KINDS, "{fault}");
        assert_eq!(
            FAULT_KEYS.map(|(k, _)| k),
            FAULT_KINDS,
            "FAULT_KEYS lists every kind"
        );
        let arrival =
            parses("name: t\nduration: 1h\nworkload: {commits: {arrival: zzz}}\n").unwrap_err();
        assert_eq!(expected(&arrival), ARRIVAL_KINDS, "{arrival}");
    }

    /// Whether the parser refuses `key` for `kind` because the kind does not take it.
    fn parser_refuses_key(what: &str, kind: &str, key: &str) -> bool {
        let value = match key {
            "change" => "scale",
            "arrival" => "poisson",
            "cluster" | "app" => "0",
            "error_rate" => "0.1",
            "between" => "[pipeline, git]",
            "samples" => "[1s]",
            _ => "1s",
        };
        let e = match what {
            "dist" => serde_yaml_ng::from_str::<super::super::Dist>(&format!(
                "{{dist: {kind}, {key}: {value}}}"
            ))
            .err(),
            _ => serde_yaml_ng::from_str::<super::super::fault::Addressed>(&format!(
                "{{kind: {kind}, {key}: {value}}}"
            ))
            .err(),
        };
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        e.contains(&format!("`{key}` does not belong"))
            || e.contains(&format!("`{key}` does not apply"))
    }

    /// The per-kind key tables agree with the parser for every key the derived struct has.
    #[test]
    fn each_kind_refuses_exactly_the_keys_the_parser_refuses() {
        let schema = scenario_schema();
        for (what, def, table) in [
            ("dist", "DistributionMap", &DIST_KEYS[..]),
            ("kind", "Fault", &FAULT_KEYS[..]),
        ] {
            let props = schema["definitions"][def]["properties"]
                .as_object()
                .expect("properties");
            assert!(props.len() > 5, "{def}");
            for (kind, allowed) in table {
                for key in props.keys().filter(|k| k.as_str() != what) {
                    let listed = allowed.contains(&key.as_str());
                    assert_eq!(
                        parser_refuses_key(what, kind, key),
                        !listed,
                        "{def} `{kind}`: the parser {} `{key}`; update the table in scenario/schema.rs",
                        if listed { "refuses" } else { "takes" }
                    );
                }
            }
        }
    }

    /// Every map of keys in the schema refuses keys it does not list, as
    /// `deny_unknown_fields` does; the one open map is `models`, whose keys are names.
    #[test]
    fn every_map_of_keys_refuses_unknown_keys() {
        fn walk(v: &Value, at: &str, open: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if m.contains_key("properties")
                        && m.get("additionalProperties") != Some(&Value::Bool(false))
                        && !m.contains_key("propertyNames")
                    {
                        open.push(at.to_string());
                    }
                    // `if`/`then` of a kind's rules narrow a map, they describe none.
                    for (k, x) in m
                        .iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "if" | "then"))
                    {
                        walk(x, &format!("{at}/{k}"), open);
                    }
                }
                Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(x, &format!("{at}/{i}"), open);
                    }
                }
                _ => {}
            }
        }
        let schema = scenario_schema();
        let mut open = Vec::new();
        walk(&schema, "", &mut open);
        assert!(open.is_empty(), "maps that take any key: {open:?}");
        let defs = schema["definitions"].as_object().expect("definitions");
        assert!(defs.len() > 25, "{:?}", defs.keys());
    }

    #[test]
    fn the_text_form_is_pretty_sorted_and_ends_with_a_newline() {
        let t = scenario_schema_text();
        assert!(
            t.ends_with("}\n") && t.starts_with("{\n  \"$schema\""),
            "{t}"
        );
        assert_eq!(t, scenario_schema_text(), "two calls differ");
    }
}
