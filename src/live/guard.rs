//! The live guard: which kubeconfig contexts pushpull may empty `pushpull-live-*`
//! namespaces in. A name is not an identity: a context named `kind-pushpull-*` or
//! `pushpull-emulator` is taken as pushpull's own only when its server is on this
//! machine (a loopback address, as kind and the emulator write them); any other cluster
//! must be named with `--allow-context`. The server is resolved the way kube-rs resolves
//! it for the run ($KUBECONFIG with several files, else ~/.kube/config), before any
//! connection is made.

use super::LiveError;

/// The context prefix kind gives the clusters of `pushpull cluster up`.
pub const KIND_CONTEXT_PREFIX: &str = "kind-pushpull-";

/// The context `pushpull emulator serve` writes.
pub const EMULATOR_CONTEXT: &str = crate::emulator::kubeconfig::CONTEXT;

/// Whether a context carries one of the names pushpull gives its own clusters.
pub fn harness_named(context: &str) -> bool {
    context.starts_with(KIND_CONTEXT_PREFIX) || context == EMULATOR_CONTEXT
}

/// Whether `host` (as a URL holds it: `127.0.0.1`, `[::1]`, `localhost`) is this
/// machine's loopback: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a context's requests go, as kube-rs would send them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub server: String,
    pub host: Option<String>,
    pub proxy: Option<String>,
}

/// The server (and proxy) of `context`, read as kube-rs reads it for the run.
pub fn resolve(context: &str) -> Result<Endpoint, LiveError> {
    let unresolved = |reason: String| LiveError::ContextUnresolved {
        context: context.to_string(),
        reason,
    };
    let kubeconfig = kube::config::Kubeconfig::read().map_err(|e| {
        unresolved(format!(
            "cannot read the kubeconfig ({}): {e}",
            kubeconfig_source()
        ))
    })?;
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    // The very loading the run's client does (no I/O beyond the files it names).
    let config =
        futures::executor::block_on(kube::Config::from_custom_kubeconfig(kubeconfig, &options))
            .map_err(|e| unresolved(format!("{e} (in {})", kubeconfig_source())))?;
    Ok(Endpoint {
        server: config.cluster_url.to_string(),
        host: config.cluster_url.host().map(str::to_string),
        proxy: config.proxy_url.as_ref().map(ToString::to_string),
    })
}

/// Where the kubeconfig comes from, for messages.
fn kubeconfig_source() -> String {
    match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => format!("KUBECONFIG={}", v.to_string_lossy()),
        _ => "~/.kube/config".to_string(),
    }
}

/// How a run reaches the context: `--mode kind` names its contexts itself, `--mode
/// kubeconfig` takes `--context` (and `--allow-context`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Kind,
    Kubeconfig,
}

/// Refuses `context` unless `allow` names it, or it has a harness name and its server is
/// on this machine (and no proxy stands between).
pub fn verify_context(context: &str, allow: Option<&str>, via: Via) -> Result<(), LiveError> {
    if allow == Some(context) {
        return Ok(());
    }
    if !harness_named(context) {
        return Err(LiveError::ContextRefused(context.to_string()));
    }
    let end = resolve(context)?;
    let reason = if let Some(proxy) = &end.proxy {
        Some(format!(
            "its requests go through the proxy {proxy}, so {} is the proxy's machine, not this one",
            end.server
        ))
    } else if !end.host.as_deref().is_some_and(is_loopback_host) {
        Some(format!(
            "its server {} is not on this machine (127.0.0.0/8, ::1 or localhost), where kind and the emulator put theirs",
            end.server
        ))
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(LiveError::ContextNotLocal {
            context: context.to_string(),
            server: end.server,
            reason,
            fix: match via {
                Via::Kubeconfig => format!("--allow-context {context}"),
                Via::Kind => format!(
                    "--mode kubeconfig --context {context} --allow-context {context} instead of --mode kind"
                ),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_slash_8_ipv6_one_and_localhost_only() {
        for h in [
            "127.0.0.1",
            "127.255.3.4",
            "[::1]",
            "::1",
            "localhost",
            "LocalHost",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.255.255.1",
            "128.0.0.1",
            "0.0.0.0",
            "[::]",
            "[::ffff:10.0.0.1]",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "kubernetes.default.svc",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn harness_names_are_kind_pushpull_and_the_emulator() {
        assert!(harness_named("kind-pushpull-0"));
        assert!(harness_named("kind-pushpull-evil"));
        assert!(harness_named("pushpull-emulator"));
        assert!(!harness_named("pushpull-emulator-2"));
        assert!(!harness_named("kind-pushpul-0"));
        assert!(!harness_named("prod"));
    }

    #[test]
    fn a_context_named_with_allow_context_is_taken_as_is() {
        // No kubeconfig is read: the user named the cluster.
        assert!(verify_context("prod-eu-1", Some("prod-eu-1"), Via::Kubeconfig).is_ok());
        assert!(matches!(
            verify_context("prod-eu-1", Some("prod-eu-2"), Via::Kubeconfig),
            Err(LiveError::ContextRefused(_))
        ));
    }
}
