//! The fleet as scenario.json describes it, for the report: cluster and app counts in
//! either form (a number, or a list of named clusters and app groups) and the names a
//! reader sees in place of indices.

use serde_json::Value;

/// Clusters in the fleet: `fleet.clusters` as a number or the length of its list.
pub fn clusters(scenario: Option<&Value>) -> Option<u64> {
    let v = scenario?.pointer("/fleet/clusters")?;
    v.as_u64().or_else(|| v.as_array().map(|a| a.len() as u64))
}

/// Apps per cluster: `fleet.apps` as a number or the sum over its groups (a group's
/// `count`, or one for a named app).
pub fn apps(scenario: Option<&Value>) -> Option<u64> {
    let v = scenario?.pointer("/fleet/apps")?;
    v.as_u64().or_else(|| {
        v.as_array().map(|groups| {
            groups
                .iter()
                .map(|g| g.get("count").and_then(Value::as_u64).unwrap_or(1))
                .sum()
        })
    })
}

/// Cluster `c`'s name, when the scenario names its clusters.
pub fn cluster_name(scenario: Option<&Value>, c: u64) -> Option<String> {
    scenario?
        .pointer("/fleet/clusters")?
        .as_array()?
        .get(c as usize)?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// App `app`'s name, when the scenario lists app groups (as the scenario names it:
/// a group's name, or `<prefix>-<i>`).
pub fn app_name(scenario: Option<&Value>, app: u64) -> Option<String> {
    let groups = scenario?.pointer("/fleet/apps")?.as_array()?;
    let mut first = 0u64;
    for g in groups {
        match (g.get("name").and_then(Value::as_str), g.get("prefix")) {
            (Some(name), _) if app == first => return Some(name.to_string()),
            (Some(_), _) => first += 1,
            (None, Some(prefix)) => {
                let n = g.get("count").and_then(Value::as_u64).unwrap_or(1);
                if app < first + n {
                    return Some(format!("{}-{}", prefix.as_str()?, app - first));
                }
                first += n;
            }
            (None, None) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names_read_both_forms() {
        let numeric = serde_json::json!({"fleet": {"clusters": 3, "apps": 10}});
        assert_eq!(clusters(Some(&numeric)), Some(3));
        assert_eq!(apps(Some(&numeric)), Some(10));
        assert_eq!(cluster_name(Some(&numeric), 0), None);
        assert_eq!(app_name(Some(&numeric), 0), None);
        let named = serde_json::json!({"fleet": {
            "clusters": [{"name": "prod-eu"}, {"name": "prod-us", "environment": "prod"}],
            "apps": [{"name": "payments"}, {"prefix": "svc", "count": 3}, {"name": "web"}]}});
        assert_eq!(clusters(Some(&named)), Some(2));
        assert_eq!(apps(Some(&named)), Some(5));
        assert_eq!(cluster_name(Some(&named), 1).as_deref(), Some("prod-us"));
        let names: Vec<Option<String>> = (0..6).map(|a| app_name(Some(&named), a)).collect();
        assert_eq!(
            names,
            [
                Some("payments".into()),
                Some("svc-0".into()),
                Some("svc-1".into()),
                Some("svc-2".into()),
                Some("web".into()),
                None
            ]
        );
    }
}
