#!/usr/bin/env python3
"""Writes the `pushpull fit` test fixtures in the shapes the providers document.

GitHub Actions: the response of GET /repos/{owner}/{repo}/actions/runs and of
GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs (docs.github.com, "REST API endpoints
for workflow runs" and "... for workflow jobs": the example responses, extended to 60 runs
of a build job and a deploy job). Jenkins: <job>/api/json?tree=builds[number,timestamp,
duration,result,actions[queuingDurationMillis]] with the Metrics plugin's
jenkins.metrics.impl.TimeInQueueAction. Argo CD: `kubectl get applications -o json`
(status.history entries with deployStartedAt/deployedAt, status.operationState).

Durations are drawn from known distributions (fixed seed) so tests can check the fit.
Run from the repository root: python3 tests/data/make_fixtures.py
"""
import json, math, random
from datetime import datetime, timedelta, timezone

rng = random.Random(20240502)
OUT = "tests/data/"
t0 = datetime(2024, 5, 6, 8, 0, 0, tzinfo=timezone.utc)  # a Monday

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

def lognormal(median, p99):
    sigma = math.log(p99 / median) / 2.326347874040841
    return rng.lognormvariate(math.log(median), sigma)

runs, jobs_pages = [], []
t = t0
for i in range(60):
    t += timedelta(minutes=rng.expovariate(1 / 70))
    created = t
    queue = lognormal(6, 40)                 # waiting for a hosted runner
    build = lognormal(250, 600)              # build and tests
    deploy_queue = lognormal(5, 30)
    apply = lognormal(4, 12)                 # kubectl apply step
    rollout = lognormal(45, 150)             # kubectl rollout status step
    b_start = created + timedelta(seconds=queue)
    b_end = b_start + timedelta(seconds=build)
    d_created = b_end
    d_start = d_created + timedelta(seconds=deploy_queue)
    a_end = d_start + timedelta(seconds=3 + apply)
    d_end = a_end + timedelta(seconds=rollout)
    failed = rng.random() < 0.08
    cancelled = not failed and rng.random() < 0.03
    conclusion = "failure" if failed else "cancelled" if cancelled else "success"
    run_id = 30433642 + i
    runs.append({
        "id": run_id, "name": "Build and deploy", "node_id": f"MDEyOldvcmtmbG93IFJ1bjI2OTI4{i}",
        "check_suite_id": 42 + i, "head_branch": "main",
        "head_sha": f"{rng.getrandbits(160):040x}", "path": ".github/workflows/deploy.yml@main",
        "run_number": 562 + i, "event": "push", "display_title": f"Change {i}",
        "status": "completed", "conclusion": conclusion, "workflow_id": 159038,
        "url": f"https://api.github.com/repos/octo-org/octo-repo/actions/runs/{run_id}",
        "html_url": f"https://github.com/octo-org/octo-repo/actions/runs/{run_id}",
        "created_at": iso(created), "updated_at": iso(d_end if not failed else b_end),
        "run_attempt": 1, "run_started_at": iso(b_start),
    })
    steps_build = [
        {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
         "started_at": iso(b_start), "completed_at": iso(b_start + timedelta(seconds=2))},
        {"name": "Build and test", "status": "completed", "conclusion": "failure" if failed else "success", "number": 2,
         "started_at": iso(b_start + timedelta(seconds=2)), "completed_at": iso(b_end)},
    ]
    page = {"total_count": 1 if failed else 2, "jobs": [{
        "id": 399444496 + 2 * i, "run_id": run_id, "workflow_name": "Build and deploy",
        "head_branch": "main", "status": "completed", "conclusion": "failure" if failed else "success",
        "created_at": iso(created), "started_at": iso(b_start), "completed_at": iso(b_end),
        "name": "build-and-test", "steps": steps_build, "runner_name": "GitHub Actions 2",
        "labels": ["ubuntu-latest"],
    }]}
    if not failed:
        page["jobs"].append({
            "id": 399444497 + 2 * i, "run_id": run_id, "workflow_name": "Build and deploy",
            "head_branch": "main", "status": "completed", "conclusion": "cancelled" if cancelled else "success",
            "created_at": iso(d_created), "started_at": iso(d_start), "completed_at": iso(d_end),
            "name": "deploy (production)", "runner_name": "GitHub Actions 7", "labels": ["ubuntu-latest"],
            "steps": [
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
                 "started_at": iso(d_start), "completed_at": iso(d_start + timedelta(seconds=3))},
                {"name": "kubectl apply", "status": "completed", "conclusion": "success", "number": 2,
                 "started_at": iso(d_start + timedelta(seconds=3)), "completed_at": iso(a_end)},
                {"name": "kubectl rollout status", "status": "completed", "conclusion": "success", "number": 3,
                 "started_at": iso(a_end), "completed_at": iso(d_end)},
            ],
        })
    jobs_pages.append(page)
runs.reverse()  # the API lists newest first
json.dump({"total_count": len(runs), "workflow_runs": runs}, open(OUT + "gha-runs.json", "w"), indent=1)
json.dump(jobs_pages, open(OUT + "gha-jobs.json", "w"), indent=1)

builds = []
ts = int(t0.timestamp() * 1000)
for n in range(1, 41):
    ts += int(rng.expovariate(1 / 5400) * 1000)
    running = n == 40
    q = int(lognormal(8, 90) * 1000)
    d = int(lognormal(420, 900) * 1000)
    result = None if running else rng.choices(["SUCCESS", "FAILURE", "UNSTABLE", "ABORTED"], [86, 8, 4, 2])[0]
    builds.append({
        "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": 1000 - n,
        "timestamp": ts, "duration": 0 if running else d, "result": result,
        "actions": [
            {"_class": "hudson.model.CauseAction"},
            {"_class": "jenkins.metrics.impl.TimeInQueueAction", "blockedDurationMillis": 0,
             "buildableDurationMillis": q, "queuingDurationMillis": q + 5000,
             "waitingDurationMillis": 5000},
            {},
        ],
    })
json.dump({"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "builds": builds},
          open(OUT + "jenkins-builds.json", "w"), indent=1)

items = []
for a, app in enumerate(["guestbook", "payments", "checkout", "search", "catalog", "auth"]):
    history, t = [], t0 + timedelta(minutes=a * 7)
    for h in range(1, 9):
        t += timedelta(minutes=rng.expovariate(1 / 180))
        took = lognormal(9, 40)
        history.append({"id": h, "revision": f"{rng.getrandbits(160):040x}",
                        "deployStartedAt": iso(t), "deployedAt": iso(t + timedelta(seconds=took)),
                        "source": {"repoURL": "https://github.com/octo-org/config.git", "path": f"apps/{app}", "targetRevision": "HEAD"}})
    phase = "Failed" if a == 3 else "Succeeded"
    items.append({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": app, "namespace": "argocd"},
        "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": app},
                 "source": {"repoURL": "https://github.com/octo-org/config.git", "path": f"apps/{app}", "targetRevision": "HEAD"},
                 "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}, "history": history,
                   "operationState": {"phase": phase, "startedAt": history[-1]["deployStartedAt"],
                                      "finishedAt": history[-1]["deployedAt"], "message": "successfully synced (all tasks run)" if phase == "Succeeded" else "one or more objects failed to apply"}},
    })
json.dump({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}},
          open(OUT + "argocd-apps.json", "w"), indent=1)
