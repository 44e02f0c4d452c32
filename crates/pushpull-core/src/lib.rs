//! pushpull's pure core: what a scenario says ([`scenario`], parsed from text), the
//! delivery models as sans-IO state machines ([`model`]), the random plan of a repetition
//! ([`plan`]), the model of git ([`git`]), bad releases ([`release`]), measurement
//! ([`measure`], [`metric`]) and the world core both worlds drive ([`world`]).
//!
//! Nothing here does I/O: no clock, no async runtime, no Kubernetes client, no git, no
//! file system. The `pushpull` crate adds the sim world (virtual time), the live world
//! (tokio, kube-rs, gix), reports and the command line; `pushpull-emulator` is the API
//! server emulator.

pub mod git;
pub mod measure;
pub mod metric;
pub mod model;
pub mod plan;
pub mod promote;
pub mod release;
pub mod scenario;
pub mod world;
