//! The closed set of resource types the emulator serves. One table describes each type
//! (group, version, kind, plural, scope, short names); discovery, routing, error messages
//! and the store all read it, so adding a type is one variant here plus its defaults.

use super::status::Subject;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Namespace,
    ConfigMap,
    Deployment,
    /// Written by the emulator's Deployment controller (one per pod-template hash).
    ReplicaSet,
    /// Written by the emulator's ReplicaSet model (kwok-style: fake nodes, no containers).
    Pod,
    /// Core `v1` Event.
    Event,
    /// `events.k8s.io/v1` Event (the same occurrences as the core ones, in the newer shape).
    EventV1,
    /// `batch/v1` Job: stored and validated, never run.
    Job,
}

impl Resource {
    pub const ALL: [Resource; 8] = [
        Resource::Namespace,
        Resource::ConfigMap,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::Pod,
        Resource::Event,
        Resource::EventV1,
        Resource::Job,
    ];

    pub fn group(self) -> &'static str {
        match self {
            Resource::Namespace | Resource::ConfigMap | Resource::Pod | Resource::Event => "",
            Resource::Deployment | Resource::ReplicaSet => "apps",
            Resource::EventV1 => "events.k8s.io",
            Resource::Job => "batch",
        }
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Resource::Namespace | Resource::ConfigMap | Resource::Pod | Resource::Event => "v1",
            Resource::Deployment | Resource::ReplicaSet => "apps/v1",
            Resource::EventV1 => "events.k8s.io/v1",
            Resource::Job => "batch/v1",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Namespace => "Namespace",
            Resource::ConfigMap => "ConfigMap",
            Resource::Deployment => "Deployment",
            Resource::ReplicaSet => "ReplicaSet",
            Resource::Pod => "Pod",
            Resource::Event | Resource::EventV1 => "Event",
            Resource::Job => "Job",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Resource::Namespace => "namespaces",
            Resource::ConfigMap => "configmaps",
            Resource::Deployment => "deployments",
            Resource::ReplicaSet => "replicasets",
            Resource::Pod => "pods",
            Resource::Event | Resource::EventV1 => "events",
            Resource::Job => "jobs",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Resource::Namespace => "namespace",
            Resource::ConfigMap => "configmap",
            Resource::Deployment => "deployment",
            Resource::ReplicaSet => "replicaset",
            Resource::Pod => "pod",
            Resource::Event | Resource::EventV1 => "event",
            Resource::Job => "job",
        }
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Resource::Namespace => &["ns"],
            Resource::ConfigMap => &["cm"],
            Resource::Deployment => &["deploy"],
            Resource::ReplicaSet => &["rs"],
            Resource::Pod => &["po"],
            Resource::Event | Resource::EventV1 => &["ev"],
            Resource::Job => &[],
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Resource::Namespace)
    }

    /// Subresources served for this type: (name, kind, group, version).
    pub fn subresources(
        self,
    ) -> &'static [(&'static str, &'static str, &'static str, &'static str)] {
        match self {
            Resource::Deployment => &[
                ("status", "Deployment", "apps", "v1"),
                ("scale", "Scale", "autoscaling", "v1"),
            ],
            Resource::Namespace => &[("status", "Namespace", "", "v1")],
            Resource::ReplicaSet => &[("status", "ReplicaSet", "apps", "v1")],
            Resource::Pod => &[("status", "Pod", "", "v1")],
            Resource::Job => &[("status", "Job", "batch", "v1")],
            Resource::ConfigMap | Resource::Event | Resource::EventV1 => &[],
        }
    }

    /// Whether writes to `.spec` bump `metadata.generation`.
    pub fn has_generation(self) -> bool {
        matches!(
            self,
            Resource::Deployment | Resource::ReplicaSet | Resource::Job
        )
    }

    /// Whether the main resource ignores `.status` on writes (a status subresource exists).
    pub fn has_status_subresource(self) -> bool {
        matches!(
            self,
            Resource::Deployment
                | Resource::Namespace
                | Resource::ReplicaSet
                | Resource::Pod
                | Resource::Job
        )
    }

    pub fn from_plural(group: &str, plural: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.group() == group && r.plural() == plural)
    }

    pub fn from_type(api_version: &str, kind: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.api_version() == api_version && r.kind() == kind)
    }

    pub fn subject(self, name: &str) -> Subject {
        Subject::new(self.group(), self.plural(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_plural_respects_group() {
        assert_eq!(
            Resource::from_plural("apps", "deployments"),
            Some(Resource::Deployment)
        );
        assert_eq!(Resource::from_plural("", "deployments"), None);
        assert_eq!(
            Resource::from_plural("", "configmaps"),
            Some(Resource::ConfigMap)
        );
    }

    #[test]
    fn lookup_by_type_needs_matching_api_version() {
        assert_eq!(
            Resource::from_type("apps/v1", "Deployment"),
            Some(Resource::Deployment)
        );
        assert_eq!(Resource::from_type("v1", "Deployment"), None);
    }
}
