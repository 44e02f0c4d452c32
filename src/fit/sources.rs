//! Readers of a team's delivery history in the formats its tools export: GitHub Actions
//! workflow runs and jobs (REST API and `gh ... --json`), Jenkins builds (`api/json`),
//! Argo CD Applications (`kubectl get applications -o json`). Each returns the durations
//! `pushpull fit` fits, in nanoseconds, and what it counted on the way.

use crate::scenario::Nanos;
use serde::Deserialize;
use serde_json::Value;
use std::time::SystemTime;

const MS: Nanos = 1_000_000;

/// One input file could not be read as the format it was given as.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SourceError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> SourceError {
    SourceError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn parse_json(path: &str, text: &str) -> Result<Value, SourceError> {
    serde_json::from_str(text).map_err(|e| err(path, format!("not JSON: {e}")))
}

fn time(path: &str, what: &str, text: &str) -> Result<SystemTime, SourceError> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).map_err(|e| {
        err(
            path,
            format!("{what} `{text}` is not an RFC 3339 UTC time like 2024-05-02T10:00:00Z ({e})"),
        )
    })
}

/// `b - a` in nanoseconds, `None` if `b` is before `a`.
fn between(a: SystemTime, b: SystemTime) -> Option<Nanos> {
    b.duration_since(a).ok().map(|d| d.as_nanos() as Nanos)
}

/// Counts of outcomes among finished runs, builds or syncs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub finished: usize,
    pub failed: usize,
    /// Cancelled, skipped or aborted: neither success nor failure.
    pub other: usize,
}

impl Outcomes {
    pub fn failed_share(&self) -> Option<f64> {
        let decided = self.finished - self.other;
        (decided > 0).then(|| self.failed as f64 / decided as f64)
    }
}

/// GitHub Actions workflow runs.
#[derive(Debug, Default)]
pub struct GhaRuns {
    /// Created → started, per finished run.
    pub queue: Vec<Nanos>,
    /// Started → last update, per finished run.
    pub duration: Vec<Nanos>,
    pub outcomes: Outcomes,
}

/// Reads `GET /repos/{owner}/{repo}/actions/runs` (`{"workflow_runs": [...]}`) or
/// `gh run list --json createdAt,startedAt,updatedAt,status,conclusion` (an array).
pub fn gha_runs(path: &str, text: &str) -> Result<GhaRuns, SourceError> {
    let v = parse_json(path, text)?;
    let runs = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("workflow_runs") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(err(
                    path,
                    "no `workflow_runs` array: expected the JSON of GET /repos/{owner}/{repo}/actions/runs or of `gh run list --json createdAt,startedAt,updatedAt,status,conclusion`",
                ));
            }
        },
        _ => {
            return Err(err(
                path,
                "expected a JSON object or array of workflow runs",
            ));
        }
    };
    let mut out = GhaRuns::default();
    for (i, run) in runs.iter().enumerate() {
        let field = |rest: &str, gh: &str| {
            run.get(rest)
                .or_else(|| run.get(gh))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if field("status", "status").as_deref() != Some("completed") {
            continue;
        }
        let at = |what: &str, rest: &str, gh: &str| -> Result<SystemTime, SourceError> {
            let text = field(rest, gh)
                .ok_or_else(|| err(path, format!("run {i} has no `{rest}` (or `{gh}`)")))?;
            time(path, &format!("run {i} {what}"), &text)
        };
        let created = at("created", "created_at", "createdAt")?;
        let started = at("started", "run_started_at", "startedAt")?;
        let updated = at("updated", "updated_at", "updatedAt")?;
        out.outcomes.finished += 1;
        match field("conclusion", "conclusion").as_deref() {
            Some("success") => {}
            Some("failure" | "timed_out" | "startup_failure") => out.outcomes.failed += 1,
            _ => out.outcomes.other += 1,
        }
        if let Some(q) = between(created, started) {
            out.queue.push(q);
        }
        if let Some(d) = between(started, updated) {
            out.duration.push(d);
        }
    }
    Ok(out)
}

/// GitHub Actions jobs, grouped by what their names say.
#[derive(Debug, Default)]
pub struct GhaJobs {
    /// Created → started (waiting for a runner), every finished job.
    pub queue: Vec<Nanos>,
    /// Started → completed of the jobs whose name matches the build pattern.
    pub build: Vec<Nanos>,
    /// Started → completed of the jobs whose name matches the deploy pattern.
    pub deploy: Vec<Nanos>,
    /// Started → completed of the steps of deploy jobs whose name matches the apply pattern.
    pub apply: Vec<Nanos>,
    pub jobs: usize,
}

#[derive(Deserialize)]
struct Job {
    #[serde(alias = "startedAt")]
    started_at: Option<String>,
    #[serde(alias = "completedAt")]
    completed_at: Option<String>,
    #[serde(default, alias = "createdAt")]
    created_at: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(default)]
    name: String,
    #[serde(alias = "startedAt")]
    started_at: Option<String>,
    #[serde(alias = "completedAt")]
    completed_at: Option<String>,
}

/// Name patterns: a job or step matches when its lowercased name contains the pattern.
pub struct Patterns<'a> {
    pub build: &'a str,
    pub deploy: &'a str,
    pub apply: &'a str,
}

/// Reads `GET /repos/{owner}/{repo}/actions/runs/{id}/jobs` (`{"jobs": [...]}`), several
/// of them as a JSON array, or `gh run view --json jobs` (`{"jobs": [...]}`).
pub fn gha_jobs(path: &str, text: &str, p: &Patterns<'_>) -> Result<GhaJobs, SourceError> {
    let v = parse_json(path, text)?;
    let pages: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = GhaJobs::default();
    for page in pages {
        let Some(jobs) = page.get("jobs") else {
            return Err(err(
                path,
                "no `jobs` array: expected the JSON of GET .../actions/runs/{id}/jobs or of `gh run view --json jobs`",
            ));
        };
        let jobs: Vec<Job> = serde_json::from_value(jobs.clone())
            .map_err(|e| err(path, format!("`jobs` is not a list of jobs: {e}")))?;
        for job in jobs {
            // The gh CLI leaves `status` out of some shapes; a job with both ends counts.
            if !job.status.is_empty() && job.status != "completed" {
                continue;
            }
            let (Some(s), Some(c)) = (&job.started_at, &job.completed_at) else {
                continue;
            };
            let started = time(path, &format!("job `{}` started", job.name), s)?;
            let completed = time(path, &format!("job `{}` completed", job.name), c)?;
            out.jobs += 1;
            if let Some(created) = &job.created_at {
                let created = time(path, &format!("job `{}` created", job.name), created)?;
                out.queue.extend(between(created, started));
            }
            let name = job.name.to_lowercase();
            let took = between(started, completed);
            if name.contains(p.build) {
                out.build.extend(took);
            }
            if name.contains(p.deploy) {
                out.deploy.extend(took);
                for step in &job.steps {
                    if !step.name.to_lowercase().contains(p.apply) {
                        continue;
                    }
                    if let (Some(s), Some(c)) = (&step.started_at, &step.completed_at) {
                        let a = time(path, &format!("step `{}` started", step.name), s)?;
                        let b = time(path, &format!("step `{}` completed", step.name), c)?;
                        out.apply.extend(between(a, b));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Jenkins builds of one job.
#[derive(Debug, Default)]
pub struct JenkinsBuilds {
    pub duration: Vec<Nanos>,
    /// From the metrics plugin's `TimeInQueueAction` where the builds carry it.
    pub queue: Vec<Nanos>,
    pub outcomes: Outcomes,
}

/// Reads a job's `api/json?tree=builds[number,timestamp,duration,result,actions[queuingDurationMillis]]`.
pub fn jenkins(path: &str, text: &str) -> Result<JenkinsBuilds, SourceError> {
    let v = parse_json(path, text)?;
    let Some(Value::Array(builds)) = v.get("builds") else {
        return Err(err(
            path,
            "no `builds` array: expected the JSON of <job>/api/json?tree=builds[number,timestamp,duration,result,actions[queuingDurationMillis]]",
        ));
    };
    let mut out = JenkinsBuilds::default();
    for (i, b) in builds.iter().enumerate() {
        // A build still running has no result yet.
        let Some(result) = b.get("result").and_then(Value::as_str) else {
            continue;
        };
        let Some(ms) = b.get("duration").and_then(Value::as_u64) else {
            return Err(err(
                path,
                format!("build {i} has no `duration` in milliseconds (add it to tree=builds[...])"),
            ));
        };
        out.outcomes.finished += 1;
        match result {
            "SUCCESS" => {}
            "FAILURE" | "UNSTABLE" => out.outcomes.failed += 1,
            _ => out.outcomes.other += 1,
        }
        out.duration.push(ms * MS);
        let queued = b
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|a| a.get("queuingDurationMillis").and_then(Value::as_u64));
        out.queue.extend(queued.map(|q| q * MS));
    }
    Ok(out)
}

/// Argo CD sync history.
#[derive(Debug, Default)]
pub struct ArgoSyncs {
    /// deployStartedAt → deployedAt of every history entry.
    pub sync: Vec<Nanos>,
    pub applications: usize,
    /// The last operation of each Application.
    pub outcomes: Outcomes,
}

/// Reads `kubectl get applications -o json` (a List) or one Application.
pub fn argocd(path: &str, text: &str) -> Result<ArgoSyncs, SourceError> {
    let v = parse_json(path, text)?;
    let apps: Vec<&Value> = match v.get("items") {
        Some(Value::Array(items)) => items.iter().collect(),
        _ if v.get("kind").and_then(Value::as_str) == Some("Application") => vec![&v],
        _ => {
            return Err(err(
                path,
                "neither a List with `items` nor an Application: expected the output of `kubectl get applications -n argocd -o json`",
            ));
        }
    };
    let mut out = ArgoSyncs::default();
    for app in apps {
        out.applications += 1;
        let name = app
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let status = app.get("status");
        for h in status
            .and_then(|s| s.get("history"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(a), Some(b)) = (
                h.get("deployStartedAt").and_then(Value::as_str),
                h.get("deployedAt").and_then(Value::as_str),
            ) else {
                continue;
            };
            let a = time(path, &format!("{name} deployStartedAt"), a)?;
            let b = time(path, &format!("{name} deployedAt"), b)?;
            out.sync.extend(between(a, b));
        }
        if let Some(phase) = status
            .and_then(|s| s.pointer("/operationState/phase"))
            .and_then(Value::as_str)
        {
            out.outcomes.finished += 1;
            match phase {
                "Succeeded" => {}
                "Failed" | "Error" => out.outcomes.failed += 1,
                _ => out.outcomes.other += 1,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;

    #[test]
    fn rest_and_gh_shapes_of_runs_read_alike() {
        let rest = r#"{"total_count":2,"workflow_runs":[
            {"status":"completed","conclusion":"success","created_at":"2024-05-02T10:00:00Z","run_started_at":"2024-05-02T10:00:07Z","updated_at":"2024-05-02T10:04:07Z"},
            {"status":"in_progress","conclusion":null,"created_at":"2024-05-02T11:00:00Z","run_started_at":"2024-05-02T11:00:01Z","updated_at":"2024-05-02T11:00:09Z"}]}"#;
        let gh = r#"[{"status":"completed","conclusion":"failure","createdAt":"2024-05-02T10:00:00Z","startedAt":"2024-05-02T10:00:07Z","updatedAt":"2024-05-02T10:04:07Z"}]"#;
        let a = gha_runs("rest.json", rest).unwrap();
        let b = gha_runs("gh.json", gh).unwrap();
        assert_eq!(a.queue, vec![7 * S]);
        assert_eq!(a.duration, vec![240 * S]);
        assert_eq!(b.queue, a.queue);
        assert_eq!(a.outcomes.failed_share(), Some(0.0));
        assert_eq!(b.outcomes.failed_share(), Some(1.0));
    }

    #[test]
    fn a_foreign_file_is_named_with_what_was_expected() {
        let e = gha_runs("x.json", r#"{"runs": []}"#).unwrap_err();
        assert!(
            e.to_string().contains("x.json: no `workflow_runs` array"),
            "{e}"
        );
        let e = jenkins("j.json", r#"{"builds": [{"result": "SUCCESS"}]}"#).unwrap_err();
        assert!(e.to_string().contains("no `duration`"), "{e}");
        let e = gha_runs(
            "t.json",
            r#"[{"status":"completed","createdAt":"yesterday","startedAt":"x","updatedAt":"y"}]"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an RFC 3339 UTC time"), "{e}");
    }
}
