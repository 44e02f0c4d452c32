//! Label selectors (`app=web,tier in (a,b),!canary`) and the field selectors kubectl uses
//! (`metadata.name=x`), parsed once per request and matched against stored objects.

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("unable to parse requirement: {0:?}")]
    Label(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
    #[error("invalid field selector: {0:?}")]
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// Builds the selector a Deployment's `spec.selector` describes (matchLabels and
    /// matchExpressions), so scale status and tables can print it.
    pub fn from_label_selector_object(selector: &Value) -> Self {
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                requirements.push(Requirement::Equals(
                    k.clone(),
                    v.as_str().unwrap_or("").into(),
                ));
            }
        }
        if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
            for expr in exprs {
                let key = expr
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let values: Vec<String> = expr
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                match expr.get("operator").and_then(Value::as_str) {
                    Some("In") => requirements.push(Requirement::In(key, values)),
                    Some("NotIn") => requirements.push(Requirement::NotIn(key, values)),
                    Some("Exists") => requirements.push(Requirement::Exists(key)),
                    Some("DoesNotExist") => requirements.push(Requirement::NotExists(key)),
                    _ => {}
                }
            }
        }
        Self { requirements }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object (its `metadata.labels`) satisfies every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }

    /// The canonical text form (`app=web,tier in (a,b)`), as in `Scale.status.selector`.
    pub fn to_text(&self) -> String {
        self.requirements
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::NotExists(k) => format!("!{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, SelectorError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| SelectorError::Label(whole.to_string()))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    let bad = || SelectorError::Label(part.to_string());
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        return if valid_key(key) {
            Ok(Requirement::NotExists(key.into()))
        } else {
            Err(bad())
        };
    }
    for (op, is_eq) in [("!=", false), ("==", true), ("=", true)] {
        if let Some((k, v)) = part.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) || v.contains(['=', '!', '(', ')', ' ']) {
                return Err(bad());
            }
            return Ok(if is_eq {
                Requirement::Equals(k.into(), v.into())
            } else {
                Requirement::NotEquals(k.into(), v.into())
            });
        }
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("").trim();
    let rest = words.next().unwrap_or("").trim();
    if !valid_key(key) {
        return Err(bad());
    }
    if rest.is_empty() {
        return Ok(Requirement::Exists(key.into()));
    }
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(Requirement::NotIn(key.into(), parse_set(set, part)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(Requirement::In(key.into(), parse_set(set, part)?));
    }
    Err(bad())
}

/// A field selector restricted to the fields every resource supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(SelectorError::Field(part.to_string()));
            };
            let field = field.trim();
            if field_pointer(field).is_none() {
                return Err(SelectorError::UnsupportedField(field.to_string()));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self { terms })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            let actual = field_pointer(field)
                .and_then(|pointer| object.pointer(pointer))
                .and_then(Value::as_str)
                .unwrap_or("");
            (actual == value) == *equal
        })
    }
}

/// The field selectors the API server accepts for the served types (every type:
/// `metadata.name`, `metadata.namespace`; Events: `involvedObject.*`, `reason`, `source`,
/// `type`, `reportingComponent` (core) and `regarding.*` (events.k8s.io); Pods:
/// `spec.nodeName`, `spec.restartPolicy`, `status.phase`, `status.podIP`), as JSON pointers.
fn field_pointer(field: &str) -> Option<&'static str> {
    Some(match field {
        "metadata.name" => "/metadata/name",
        "metadata.namespace" => "/metadata/namespace",
        "involvedObject.kind" => "/involvedObject/kind",
        "involvedObject.namespace" => "/involvedObject/namespace",
        "involvedObject.name" => "/involvedObject/name",
        "involvedObject.uid" => "/involvedObject/uid",
        "involvedObject.apiVersion" => "/involvedObject/apiVersion",
        "involvedObject.resourceVersion" => "/involvedObject/resourceVersion",
        "involvedObject.fieldPath" => "/involvedObject/fieldPath",
        "regarding.kind" => "/regarding/kind",
        "regarding.namespace" => "/regarding/namespace",
        "regarding.name" => "/regarding/name",
        "regarding.uid" => "/regarding/uid",
        "reason" => "/reason",
        "type" => "/type",
        "source" => "/source/component",
        "reportingComponent" => "/reportingComponent",
        "reportingController" => "/reportingController",
        "spec.nodeName" => "/spec/nodeName",
        "spec.restartPolicy" => "/spec/restartPolicy",
        "status.phase" => "/status/phase",
        "status.podIP" => "/status/podIP",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn managed_by_equality_selects_only_owned_objects() {
        let sel = LabelSelector::parse("app.kubernetes.io/managed-by=pushpull").unwrap();
        assert!(sel.matches(&obj(json!({"app.kubernetes.io/managed-by": "pushpull"}))));
        assert!(!sel.matches(&obj(json!({"app.kubernetes.io/managed-by": "helm"}))));
        assert!(!sel.matches(&obj(json!({}))));
    }

    #[test]
    fn set_based_requirements() {
        let sel = LabelSelector::parse("tier in (web, api),env notin (prod),!canary,app").unwrap();
        assert!(sel.matches(&obj(json!({"tier": "api", "env": "dev", "app": "x"}))));
        assert!(!sel.matches(&obj(json!({"tier": "db", "app": "x"}))));
        assert!(!sel.matches(&obj(json!({"tier": "web", "env": "prod", "app": "x"}))));
        assert!(!sel.matches(&obj(json!({"tier": "web", "app": "x", "canary": "1"}))));
        assert!(!sel.matches(&obj(json!({"tier": "web"}))));
    }

    #[test]
    fn not_equals_matches_missing_label() {
        let sel = LabelSelector::parse("env!=prod").unwrap();
        assert!(sel.matches(&obj(json!({}))));
        assert!(!sel.matches(&obj(json!({"env": "prod"}))));
    }

    #[test]
    fn malformed_selector_is_an_error_not_a_panic() {
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("=x").is_err());
        assert!(LabelSelector::parse("a=b=c").is_err());
    }

    #[test]
    fn selector_object_renders_like_kubectl() {
        let sel =
            LabelSelector::from_label_selector_object(&json!({"matchLabels": {"app": "web"}}));
        assert_eq!(sel.to_text(), "app=web");
    }

    #[test]
    fn field_selector_by_name() {
        let sel = FieldSelector::parse("metadata.name=a").unwrap();
        assert!(sel.matches(&obj(json!({}))));
        let other = FieldSelector::parse("metadata.name!=a").unwrap();
        assert!(!other.matches(&obj(json!({}))));
        assert!(matches!(
            FieldSelector::parse("spec.replicas=1"),
            Err(SelectorError::UnsupportedField(_))
        ));
    }
}
