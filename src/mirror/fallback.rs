//! Versions for mirrored packages whose upstream declares none (a
//! marketplace skill without `metadata.version`, an Agent Skills index
//! entry whose SKILL.md has none): `0.0.N`, where N starts at 1 and grows
//! by one each time the package's content hash is one not seen before. The
//! last (N, hash) and each hash's N are kept in the mirror state per source
//! and name, so a number is never given to two contents and a content seen
//! before keeps its number (see index-spec/mirror.md).

use super::marketplace::VersionHistory;
use crate::package::Kind;
use crate::registry::Registry;

/// The fallback versions of one source.
pub(super) struct FallbackVersions<'a> {
    registry: &'a Registry,
    source: &'a str,
}

impl<'a> FallbackVersions<'a> {
    /// The history `source` keeps in `registry`'s mirror state.
    pub(super) fn new(registry: &'a Registry, source: &'a str) -> FallbackVersions<'a> {
        FallbackVersions { registry, source }
    }

    /// The version of `name` whose bundle hashes to `content_sha256`
    /// (lowercase hex): the one given to that content before, else the
    /// next, recorded durably before it is returned. A content seen before
    /// keeps its number, so an upstream flipping between two contents
    /// cannot make the counter grow.
    pub(super) fn version_for(&self, name: &str, content_sha256: &str) -> String {
        let normalized = crate::package::normalize(name);
        let given = format!("fallback-of:{normalized}:{content_sha256}");
        if let Some(n) = self
            .registry
            .mirror_state(self.source, &given)
            .ok()
            .flatten()
            .and_then(|n| n.parse::<u64>().ok())
        {
            return format!("0.0.{n}");
        }
        let key = format!("fallback:{normalized}");
        let last = self.registry.mirror_state(self.source, &key).ok().flatten();
        let (n, hash) = last
            .as_deref()
            .and_then(|v| v.split_once(' '))
            .and_then(|(n, h)| Some((n.parse::<u64>().ok()?, h.to_string())))
            .unwrap_or((0, String::new()));
        if n > 0 && hash == content_sha256 {
            return format!("0.0.{n}");
        }
        let next = n + 1;
        let recorded = self
            .registry
            .set_mirror_state(self.source, &key, &format!("{next} {content_sha256}"))
            .and_then(|()| {
                self.registry
                    .set_mirror_state(self.source, &given, &next.to_string())
            });
        if let Err(e) = recorded {
            tracing::error!(error = %e, "cannot record a fallback version");
        }
        format!("0.0.{next}")
    }
}

impl VersionHistory for FallbackVersions<'_> {
    fn fallback(&self, _kind: Kind, name: &str, content_sha256: &str) -> String {
        self.version_for(name, content_sha256)
    }
}
