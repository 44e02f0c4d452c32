//! Bad releases in flight, shared by the sim and the live world: which app a release
//! breaks, when it is detected, the rollback decision, and the apps the team holds
//! back until their revert lands (workload commits to a frozen app go to the next free
//! one). Pure bookkeeping: the worlds do the commits, the clocks and the timeline.
//!
//! A rollback that leaves git behind (`redeploy`, `rollout-undo`, `app-rollback`) keeps
//! the app held until the fix commit lands, so no workload commit ships on top of the bad
//! one meanwhile.

use crate::model::{AppId, Rev, SpecId};
use crate::plan::Plan;
use crate::scenario::Nanos;

#[derive(Clone, Copy, Debug)]
struct BadRelease {
    rev: Option<Rev>,
    app: AppId,
    /// The image before the bad one: what the revert restores.
    good_image: u32,
    /// The manifest before the bad one: what an undo or a re-run deploys again.
    good_spec: SpecId,
    /// The broken manifest.
    spec: SpecId,
    rollback_after: Nanos,
    detected: bool,
    resolved: bool,
    fixed: bool,
}

/// What a rollback decision does: revert `bad_rev` by restoring `good_image` on `app`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollback {
    pub bad_rev: Rev,
    pub app: AppId,
    pub good_image: u32,
}

/// What a rollback that goes around git restores: `good_spec` in place of `bad_spec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Undo {
    pub bad_rev: Rev,
    pub app: AppId,
    pub good_image: u32,
    pub good_spec: SpecId,
    pub bad_spec: SpecId,
}

pub struct Releases {
    bad: Vec<BadRelease>,
    frozen: Vec<bool>,
}

impl Releases {
    pub fn new(plan: &Plan, apps: u32) -> Releases {
        Releases {
            bad: plan
                .bad_releases
                .iter()
                .map(|b| BadRelease {
                    rev: None,
                    app: b.app,
                    good_image: 0,
                    good_spec: 0,
                    spec: 0,
                    rollback_after: b.rollback_after,
                    detected: false,
                    resolved: false,
                    fixed: false,
                })
                .collect(),
            frozen: vec![false; apps as usize],
        }
    }

    /// The next app at or after `app` that is neither frozen nor taken.
    fn free_app(&self, app: AppId, taken: &[AppId]) -> Option<AppId> {
        let n = self.frozen.len() as u64;
        (0..n)
            .map(|k| ((app as u64 + k) % n) as AppId)
            .find(|a| !self.frozen[*a as usize] && !taken.contains(a))
    }

    /// The apps a planned workload commit changes, moved off frozen apps, ascending;
    /// empty when every app it could change is frozen.
    pub fn commit_apps(&self, planned: &[AppId]) -> Vec<AppId> {
        let mut apps: Vec<AppId> = Vec::with_capacity(planned.len());
        for &a in planned {
            if let Some(a) = self.free_app(a, &apps) {
                apps.push(a);
            }
        }
        apps.sort_unstable();
        apps
    }

    /// The app bad release `i` breaks, or `None` when every app is frozen.
    pub fn app_for(&self, i: usize) -> Option<AppId> {
        self.free_app(self.bad[i].app, &[])
    }

    /// Bad release `i`'s source commit breaks `app`: the team holds the app back from
    /// now on, before its config commit lands (a pull setup's write-back comes later),
    /// so every setup meets the same workload commits.
    pub fn freeze(&mut self, i: usize, app: AppId) {
        self.frozen[app as usize] = true;
        self.bad[i].app = app;
    }

    /// Bad release `i` was committed as `rev`, breaking `app` with manifest `spec` in
    /// place of `good_spec` (image `good_image`); the app is frozen until its revert.
    pub fn shipped(
        &mut self,
        i: usize,
        rev: Rev,
        app: AppId,
        (good_image, good_spec): (u32, SpecId),
        spec: SpecId,
    ) {
        self.frozen[app as usize] = true;
        let b = &mut self.bad[i];
        b.rev = Some(rev);
        b.app = app;
        b.good_image = good_image;
        b.good_spec = good_spec;
        b.spec = spec;
    }

    /// A rollout of `spec` failed its deadline. If that is a bad release seen for the
    /// first time, returns (its index, app, rev, delay until the rollback decision).
    pub fn detected(&mut self, spec: SpecId) -> Option<(usize, AppId, Rev, Nanos)> {
        let i = self
            .bad
            .iter()
            .position(|b| b.spec == spec && b.rev.is_some())?;
        let b = &mut self.bad[i];
        if b.detected {
            return None;
        }
        b.detected = true;
        Some((i, b.app, b.rev.unwrap_or(0), b.rollback_after))
    }

    /// The rollback of bad release `i` is decided: the app is released and the revert to
    /// make is returned (once).
    pub fn decide_rollback(&mut self, i: usize) -> Option<Rollback> {
        let b = &mut self.bad[i];
        let bad_rev = b.rev?;
        if b.resolved {
            return None;
        }
        b.resolved = true;
        self.frozen[b.app as usize] = false;
        Some(Rollback {
            bad_rev,
            app: b.app,
            good_image: b.good_image,
        })
    }

    /// The rollback of bad release `i` is decided by a method that leaves git behind: the
    /// app stays held until [`Releases::fix`]; what to restore is returned (once).
    pub fn decide_undo(&mut self, i: usize) -> Option<Undo> {
        let b = &mut self.bad[i];
        let bad_rev = b.rev?;
        if b.resolved {
            return None;
        }
        b.resolved = true;
        Some(Undo {
            bad_rev,
            app: b.app,
            good_image: b.good_image,
            good_spec: b.good_spec,
            bad_spec: b.spec,
        })
    }

    /// The fix commit of bad release `i` (after an undo) is due: the app is released and
    /// the revert to make is returned (once).
    pub fn fix(&mut self, i: usize) -> Option<Rollback> {
        let b = &mut self.bad[i];
        let bad_rev = b.rev?;
        if !b.resolved || b.fixed {
            return None;
        }
        b.fixed = true;
        self.frozen[b.app as usize] = false;
        Some(Rollback {
            bad_rev,
            app: b.app,
            good_image: b.good_image,
        })
    }

    /// The app rolled back by bad release `i`'s undo, and its bad manifest.
    pub fn undone(&self, i: usize) -> Option<Undo> {
        let b = &self.bad[i];
        Some(Undo {
            bad_rev: b.rev?,
            app: b.app,
            good_image: b.good_image,
            good_spec: b.good_spec,
            bad_spec: b.spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedBadRelease;

    fn releases() -> Releases {
        let plan = Plan {
            bad_releases: vec![PlannedBadRelease {
                at: 10,
                app: 2,
                rollback_after: 5,
            }],
            ..Plan::default()
        };
        Releases::new(&plan, 4)
    }

    #[test]
    fn a_bad_release_freezes_its_app_until_the_rollback_decision() {
        let mut r = releases();
        assert_eq!(r.app_for(0), Some(2));
        r.shipped(0, 7, 2, (2, 2), 40);
        assert_eq!(
            r.commit_apps(&[2, 3]),
            vec![0, 3],
            "app 2 is held; its commit moves on"
        );
        assert_eq!(r.detected(41), None, "another manifest is no bad release");
        assert_eq!(r.detected(40), Some((0, 2, 7, 5)));
        assert_eq!(r.detected(40), None, "detected once");
        assert_eq!(
            r.decide_rollback(0),
            Some(Rollback {
                bad_rev: 7,
                app: 2,
                good_image: 2
            })
        );
        assert_eq!(r.decide_rollback(0), None, "decided once");
        assert_eq!(r.commit_apps(&[2]), vec![2]);
    }

    #[test]
    fn an_undo_holds_the_app_until_its_fix_commit() {
        let mut r = releases();
        r.shipped(0, 7, 2, (2, 2), 40);
        assert!(r.detected(40).is_some());
        assert_eq!(r.fix(0), None, "no fix before the rollback is decided");
        let u = r.decide_undo(0).expect("decided");
        assert_eq!((u.good_spec, u.bad_spec, u.app), (2, 40, 2));
        assert_eq!(r.decide_undo(0), None, "decided once");
        assert_eq!(r.commit_apps(&[2]), vec![3], "still held after the undo");
        assert_eq!(
            r.fix(0),
            Some(Rollback {
                bad_rev: 7,
                app: 2,
                good_image: 2
            })
        );
        assert_eq!(r.fix(0), None, "fixed once");
        assert_eq!(r.commit_apps(&[2]), vec![2]);
    }
}
