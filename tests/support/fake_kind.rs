//! The stand-in kind of `fake-kind.sh` on PATH, for tests on machines without Docker:
//! each "cluster" is a `pushpull emulator serve` process with a `kind-NAME` context in a
//! private kubeconfig. Dropping a [`FakeKind`] deletes every cluster still running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A directory with the fake `kind`, a stub `docker`, a state directory and a kubeconfig.
pub struct FakeKind {
    dir: tempfile::TempDir,
}

impl FakeKind {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-kind.sh");
        std::fs::copy(&script, bin.join("kind")).unwrap();
        // kind needs a Docker engine; pushpull only checks that docker is there.
        std::fs::write(bin.join("docker"), "#!/bin/sh\nexit 0\n").unwrap();
        for tool in ["kind", "docker"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        FakeKind { dir }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A command with the fake tools first on PATH, run from the repository root (where
    /// kind-config.yaml is).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(program);
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PATH", path)
            .env("FAKE_KIND_STATE", self.state())
            .env("PUSHPULL_BIN", env!("CARGO_BIN_EXE_pushpull"))
            .env("KUBECONFIG", self.kubeconfig());
        c
    }

    pub fn pushpull(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_pushpull"))
    }

    /// `kind ARGS`, which must succeed.
    pub fn kind(&self, args: &[&str]) -> Output {
        let o = self.command("kind").args(args).output().unwrap();
        assert!(o.status.success(), "kind {args:?}: {}", text(&o));
        o
    }

    /// The clusters the fake kind has running, as `kind get clusters` lists them, sorted.
    pub fn clusters(&self) -> Vec<String> {
        let o = self.kind(&["get", "clusters"]);
        let mut v: Vec<String> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.state()) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "pid")
                    .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
            })
            .collect()
    }
}

impl Drop for FakeKind {
    fn drop(&mut self) {
        for name in self.names() {
            let _ = self
                .command("kind")
                .args(["delete", "cluster", "--name", &name])
                .output();
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
