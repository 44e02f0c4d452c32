//! The simulated git host: a linear history of commits, each a full tree of app
//! manifests. A manifest (spec) records the commit that wrote it, the container image
//! it runs and whether that image is broken.

use crate::model::{AppId, Rev, SpecId, Tree};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub rev: Rev,
    pub image: u32,
    pub broken: bool,
}

pub struct GitHost {
    pub specs: Vec<Spec>,
    /// The tree at the head of the branch.
    pub head: Vec<SpecId>,
    /// Every revision's tree (index = rev).
    pub trees: Vec<Tree>,
}

impl GitHost {
    /// Rev 0 holds one healthy manifest per app.
    pub fn new(apps: u32) -> GitHost {
        let specs: Vec<Spec> = (0..apps)
            .map(|a| Spec {
                rev: 0,
                image: a,
                broken: false,
            })
            .collect();
        let head: Vec<SpecId> = (0..apps).collect();
        let trees = vec![Arc::from(head.clone())];
        GitHost { specs, head, trees }
    }

    pub fn head_rev(&self) -> Rev {
        (self.trees.len() - 1) as Rev
    }

    /// Commits new manifests: `(app, image)`; `None` gives the app a fresh image.
    pub fn commit(&mut self, changes: &[(AppId, Option<u32>, bool)]) -> Rev {
        let rev = self.trees.len() as Rev;
        for &(app, image, broken) in changes {
            let id = self.specs.len() as SpecId;
            let image = image.unwrap_or(id);
            self.specs.push(Spec { rev, image, broken });
            self.head[app as usize] = id;
        }
        self.trees.push(Arc::from(self.head.clone()));
        rev
    }

    pub fn spec(&self, id: SpecId) -> Spec {
        self.specs[id as usize]
    }
}
