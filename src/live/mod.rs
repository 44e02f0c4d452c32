//! The live world: the same delivery models in real time, against a real git repository
//! (gix) and real Kubernetes APIs.

pub mod git;
