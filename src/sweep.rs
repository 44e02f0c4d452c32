//! Parameter sweeps: one scenario run once per combination of values (`--set
//! models.pull.preset=argocd,flux --set fleet.clusters=1,10`). Values are set on the YAML
//! document before validation, so every variant is checked exactly like a file, and an
//! `arrival: replay` is read from its repository exactly as `pushpull run` reads it.

pub mod html;
pub mod job;
pub mod shard;

use crate::scenario::{Scenario, ScenarioError};
use serde_yaml_ng::{Mapping, Value};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("--set {0}: expected KEY=V1,V2,... (for example models.pull.preset=argocd,flux)")]
    Syntax(String),
    #[error("--set {key}: value `{value}` is not valid YAML: {reason}")]
    Value {
        key: String,
        value: String,
        reason: String,
    },
    #[error("--set {key}: cannot set it: {reason}")]
    Path { key: String, reason: String },
    #[error("{file}: not a YAML mapping: {reason}")]
    Document { file: String, reason: String },
    #[error("variant {variant}: {source}")]
    Invalid {
        variant: String,
        source: Box<ScenarioError>,
    },
    #[error("variant {variant}: {file}: {reason}")]
    Replay {
        variant: String,
        file: String,
        reason: String,
    },
}

/// One `--set KEY=V1,V2,...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

impl Axis {
    pub fn parse(arg: &str) -> Result<Axis, SweepError> {
        let (key, values) = arg
            .split_once('=')
            .ok_or_else(|| SweepError::Syntax(arg.into()))?;
        let values = split_top_level(values);
        if key.trim().is_empty() || values.iter().any(|v| v.is_empty()) {
            return Err(SweepError::Syntax(arg.into()));
        }
        Ok(Axis {
            key: key.trim().into(),
            values,
        })
    }
}

/// Splits on commas outside `{}` and `[]`, so a value may be a flow map.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for ch in s.chars() {
        match ch {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur.trim().to_string());
    out
}

/// One combination of values, validated.
pub struct Variant {
    /// `models.pull.preset=flux fleet.clusters=10`.
    pub label: String,
    /// A folder name: `models-pull-preset-flux_fleet-clusters-10`.
    pub slug: String,
    pub settings: Vec<(String, String)>,
    pub scenario: Scenario,
}

/// Every combination of the axes' values applied to the scenario text, in order (the
/// last axis varies fastest). A variant whose commits are `arrival: replay` has the
/// replayed commit times read from its repository (a relative `repo` is taken from the
/// folder of `file`, as `pushpull run` does).
pub fn variants(text: &str, file: &str, axes: &[Axis]) -> Result<Vec<Variant>, SweepError> {
    crate::scenario::check_nesting(text, file).map_err(|source| SweepError::Invalid {
        variant: "(the file itself)".into(),
        source: Box::new(source),
    })?;
    for axis in axes {
        for v in &axis.values {
            crate::scenario::check_nesting(v, &format!("--set {}", axis.key)).map_err(
                |source| SweepError::Invalid {
                    variant: format!("{}={v}", axis.key),
                    source: Box::new(source),
                },
            )?;
        }
    }
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| SweepError::Document {
        file: file.into(),
        reason: e.to_string(),
    })?;
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for settings in combos {
        let mut d = doc.clone();
        for (k, v) in &settings {
            let value: Value = serde_yaml_ng::from_str(v).map_err(|e| SweepError::Value {
                key: k.clone(),
                value: v.clone(),
                reason: e.to_string(),
            })?;
            set(&mut d, k, value).map_err(|reason| SweepError::Path {
                key: k.clone(),
                reason,
            })?;
        }
        let label = settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let slug = settings
            .iter()
            .map(|(k, v)| slugify(&format!("{k}-{v}")))
            .collect::<Vec<_>>()
            .join("_");
        let yaml = serde_yaml_ng::to_string(&d).expect("a YAML value serializes");
        let mut scenario =
            Scenario::parse(&yaml, &format!("{file} [{label}]")).map_err(|source| {
                SweepError::Invalid {
                    variant: label.clone(),
                    source: Box::new(source),
                }
            })?;
        let base = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        scenario
            .resolve_replay(base, crate::live::git::replay_offsets)
            .map_err(|reason| SweepError::Replay {
                variant: label.clone(),
                file: file.into(),
                reason,
            })?;
        out.push(Variant {
            label,
            slug,
            settings,
            scenario,
        });
    }
    Ok(out)
}

fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Sets `a.b[2].c` in a YAML document, creating maps on the way.
fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut cur = doc;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => {
                let idx: usize = rest
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| format!("`{seg}` has a bad index"))?;
                (n, Some(idx))
            }
            None => (*seg, None),
        };
        if cur.is_null() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur
            .as_mapping_mut()
            .ok_or_else(|| format!("`{name}` is inside something that is not a map"))?;
        let key = Value::String(name.to_string());
        if last && index.is_none() {
            map.insert(key, value);
            return Ok(());
        }
        let child = map.entry(key).or_insert(Value::Null);
        cur = match index {
            Some(idx) => {
                let seq = child
                    .as_sequence_mut()
                    .ok_or_else(|| format!("`{name}` is not a list"))?;
                let len = seq.len();
                let item = seq
                    .get_mut(idx)
                    .ok_or_else(|| format!("`{name}` has {len} items, no [{idx}]"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            None => child,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: s\nduration: 1h\nmodels:\n  pull:\n    preset: argocd\nfaults:\n  - { kind: drift, change: env, at: 10m }\n";

    #[test]
    fn cartesian_product_in_order() {
        let axes = [
            Axis::parse("models.pull.preset=argocd,flux").unwrap(),
            Axis::parse("fleet.clusters=1,3").unwrap(),
        ];
        let v = variants(DOC, "s.yaml", &axes).unwrap();
        let labels: Vec<&str> = v.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "models.pull.preset=argocd fleet.clusters=1",
                "models.pull.preset=argocd fleet.clusters=3",
                "models.pull.preset=flux fleet.clusters=1",
                "models.pull.preset=flux fleet.clusters=3"
            ]
        );
        assert_eq!(v[3].scenario.clusters(), 3);
        assert_eq!(v[3].slug, "models-pull-preset-flux_fleet-clusters-3");
    }

    #[test]
    fn flow_map_values_and_list_indices() {
        let axes = [
            Axis::parse("models.pull.webhook=none,{ delay: 1s, loss: 0.1 }").unwrap(),
            Axis::parse("faults[0].at=20m").unwrap(),
        ];
        let v = variants(DOC, "s.yaml", &axes).unwrap();
        assert_eq!(v.len(), 2);
        assert!(
            v[0].scenario
                .models
                .get("pull")
                .and_then(|m| m.pull())
                .unwrap()
                .webhook
                .is_none()
        );
        assert!(
            v[1].scenario
                .models
                .get("pull")
                .and_then(|m| m.pull())
                .unwrap()
                .webhook
                .is_some()
        );
    }

    #[test]
    fn deep_nesting_in_the_file_or_a_value_is_refused_before_parsing() {
        let deep = format!(
            "name: s\nduration: 1h\nfleet: {}{}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = variants(&deep, "s.yaml", &[Axis::parse("seed=1").unwrap()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("s.yaml:3:") && e.contains("deeper than 64"),
            "{e}"
        );
        let value = format!("fleet.clusters={}{}", "[".repeat(100), "]".repeat(100));
        let e = variants(DOC, "s.yaml", &[Axis::parse(&value).unwrap()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("deeper than 64"), "{e}");
    }

    #[test]
    fn an_out_of_range_value_set_by_a_sweep_is_refused() {
        let e = variants(
            DOC,
            "s.yaml",
            &[Axis::parse("fleet.replicas=3,2147483648").unwrap()],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("fleet.replicas") && e.contains("int32"), "{e}");
    }

    #[test]
    fn invalid_variants_name_the_setting() {
        let e = variants(
            DOC,
            "s.yaml",
            &[Axis::parse("models.pull.preset=argo").unwrap()],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("models.pull.preset=argo") && e.contains("argocd"),
            "{e}"
        );
        assert!(Axis::parse("no-equals").is_err());
    }
}
