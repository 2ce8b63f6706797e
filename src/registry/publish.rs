//! Publishing: what a publish says (cargo's metadata JSON, with skillreg's
//! `kind` and `signature`), its checks, and storing it durably before it is
//! visible. The server decodes the wire framing; this is the service.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{files_json, is_mirror_login, Registry, RegistryError};
use crate::blobs::Sha256Digest;
use crate::bundle;
use crate::crash_point::crash_point;
use crate::fsutil;
use crate::index::{self, sign, IndexDep, IndexEntry};
use crate::package::{self, Kind, PackageName};
use crate::store::{PackageRow, Store, StoreError};
use crate::token::{Identity, Role};

/// The JSON part of a publish, as cargo sends it. skillreg adds `kind`
/// (absent means `crate`). Unknown fields are ignored, as cargo may add more.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishMetadata {
    /// Package name.
    pub name: String,
    /// Version.
    pub vers: String,
    /// Dependencies.
    #[serde(default)]
    pub deps: Vec<PublishDep>,
    /// Features.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Licence expression.
    #[serde(default)]
    pub license: Option<String>,
    /// Repository URL.
    #[serde(default)]
    pub repository: Option<String>,
    /// `links` key of a crate.
    #[serde(default)]
    pub links: Option<String>,
    /// Minimum Rust version.
    #[serde(default)]
    pub rust_version: Option<String>,
    /// skillreg: the package kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// skillreg: the publisher's signed statement over name, version and
    /// the bundle's sha256 (an envelope of type `publisher`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::index::sign::Envelope>,
}

/// A dependency in publish metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishDep {
    /// Real package name.
    pub name: String,
    /// Version requirement.
    pub version_req: String,
    /// Enabled features.
    #[serde(default)]
    pub features: Vec<String>,
    /// Optional.
    #[serde(default)]
    pub optional: bool,
    /// Default features on.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// Target cfg.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `dev`, `build`.
    #[serde(default = "normal")]
    pub kind: String,
    /// Other registry's index URL.
    #[serde(default)]
    pub registry: Option<String>,
    /// The alias when renamed in Cargo.toml.
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

fn normal() -> String {
    "normal".into()
}

/// The outcome of a successful publish.
#[derive(Debug)]
pub struct Published {
    /// The package row after the publish.
    pub package: PackageRow,
    /// The bundle's digest.
    pub cksum: Sha256Digest,
    /// Warnings to show the publisher.
    pub warnings: Vec<String>,
}

/// A publish that passed every check not needing the store.
struct PublishPlan<'a> {
    name: PackageName,
    kind: Kind,
    version: semver::Version,
    tarball: &'a [u8],
    cksum: Sha256Digest,
    entry: IndexEntry,
    description: Option<String>,
    keywords: Vec<String>,
    files_json: String,
    warnings: Vec<String>,
}

impl Registry {
    /// Publishes a body in cargo's framing. The version is durable and in the
    /// index when this returns; on any error nothing is stored.
    ///
    /// A non-admin publish to a name that only unreviewed (mirrored)
    /// versions hold claims it, as if the name were free (see
    /// [`Store::claim_and_insert_version`]).
    pub fn publish(
        &self,
        who: &Identity,
        meta: &PublishMetadata,
        tarball: &[u8],
    ) -> Result<Published, RegistryError> {
        let plan = self.prepare_publish(who, meta, tarball)?;
        let entry_json = index::line(&plan.entry);
        // The checks that need the store, first without the writer lock:
        // a refused publish stores no blob, and the blob is written (and,
        // with `[storage] blobs`, sent to the bucket) while other changes
        // go on, so a slow disk or bucket holds up this publish alone.
        self.publish_target(&self.reader(), who, &plan)?;
        // The blob is durable before the version row commits, so the index
        // never names a missing blob; a crash in between, or a publish of
        // the same version that wins the race below, leaves only an
        // unreferenced blob (fsck lists it).
        let stored = self.blobs.put(plan.tarball)?;
        debug_assert_eq!(stored, plan.cksum);
        crash_point("publish.after_blob");
        let mut store = self.writer();
        // Again under the writer lock, so they hold until the insert; the
        // insert's own transaction repeats them.
        let claim = self.publish_target(&store, who, &plan)?;
        let new = crate::store::NewVersion {
            name: &plan.name,
            kind: plan.kind,
            version: &plan.version,
            cksum: &plan.entry.cksum,
            size: plan.tarball.len() as u64,
            entry_json: &entry_json,
            description: plan.description.as_deref().unwrap_or(""),
            keywords: &plan.keywords,
            publisher: who,
            files_json: &plan.files_json,
            mirror: None,
        };
        let package = match &claim {
            None => store.insert_version(&new)?,
            Some(existing) => {
                let note = format!("superseded: the name was published here by {}", who.login);
                let (package, rejected) = store.claim_and_insert_version(existing, &new, &note)?;
                tracing::info!(package = %plan.name, by = %who.login, superseded = ?rejected, "a local publish claimed a name that only unreviewed mirrored versions held");
                package
            }
        };
        crash_point("publish.after_commit");
        self.render_and_sign(&mut store, &package, "publish.after_render")?;
        tracing::info!(package = %plan.name, version = %plan.version, kind = %plan.kind, by = %who.login, "published");
        Ok(Published {
            package,
            cksum: plan.cksum,
            warnings: plan.warnings,
        })
    }

    /// Validates a publish, without touching the store.
    fn prepare_publish<'a>(
        &self,
        who: &Identity,
        meta: &PublishMetadata,
        tarball: &'a [u8],
    ) -> Result<PublishPlan<'a>, RegistryError> {
        if !who.has(Role::Publisher) {
            return Err(RegistryError::Forbidden(format!(
                "the token for `{}` has the role {}; publishing needs a publisher or admin token",
                who.login, who.role
            )));
        }
        let kind = meta.kind.unwrap_or(Kind::Crate);
        let name = PackageName::parse(kind, &meta.name)?;
        let version = package::parse_version(&meta.vers)?;
        let mut deps = index_deps(meta, kind)?;
        let validated = bundle::validate(kind, &name, &version, tarball, &self.archive_limits())?;
        let files_json = files_json(&validated.archive);
        deps.extend(validated.dependencies.iter().map(manifest_dep));

        let (features, features2) = split_features(&meta.features);
        let pick = |from_bundle: Option<String>, from_meta: &Option<String>| {
            from_bundle
                .or_else(|| from_meta.clone())
                .filter(|s| !s.is_empty())
        };
        let description = pick(validated.description, &meta.description);
        let license = pick(validated.license, &meta.license);
        let keywords = if validated.keywords.is_empty() {
            meta.keywords.clone()
        } else {
            validated.keywords
        };
        let cksum = Sha256Digest::of(tarball);
        let provenance = match &meta.signature {
            Some(envelope) => {
                Some(self.verify_publisher_signature(who, &name, &version, &cksum, envelope)?)
            }
            None if self
                .config
                .signing
                .require_publisher_signature
                .contains(&kind) =>
            {
                return Err(RegistryError::BadRequest(format!(
                    "this registry only accepts signed {kind} packages: register a key with \
                     `skillreg publisher-key register` and publish with `--sign-key FILE`"
                )))
            }
            None => None,
        };
        let entry = IndexEntry {
            name: name.to_string(),
            vers: version.to_string(),
            deps,
            cksum: cksum.to_hex(),
            v: if features2.is_some() { 2 } else { 1 },
            features,
            features2,
            yanked: false,
            links: meta.links.clone().filter(|_| kind == Kind::Crate),
            rust_version: meta.rust_version.clone().filter(|_| kind == Kind::Crate),
            pubtime: fsutil::rfc3339(fsutil::unix_now()),
            kind,
            description: description.clone(),
            license,
            size: Some(tarball.len() as u64),
            provenance,
        };
        Ok(PublishPlan {
            name,
            kind,
            version,
            tarball,
            cksum,
            entry,
            description,
            keywords,
            files_json,
            warnings: validated.warnings,
        })
    }

    /// The checks of a publish against the store. `Some(package)` when the
    /// publish claims `package`: a non-admin who is not a real owner
    /// (one other than a `mirror:*` login) publishes to a name that only
    /// unreviewed versions hold. Such a package answers a non-admin as a
    /// free name would, so no error here may name its spelling, kind,
    /// owners or source.
    fn publish_target(
        &self,
        store: &Store,
        who: &Identity,
        plan: &PublishPlan<'_>,
    ) -> Result<Option<PackageRow>, RegistryError> {
        let Some(existing) = store.package(plan.name.as_str())? else {
            return Ok(None);
        };
        let hidden = !who.has(Role::Admin) && !store.has_approved(existing.id)?;
        if existing.name != plan.name.as_str() || existing.kind != plan.kind {
            if hidden {
                return Err(RegistryError::NameInReview(plan.name.to_string()));
            }
            return Err(StoreError::NameTaken {
                wanted: plan.name.to_string(),
                existing: existing.name,
                kind: existing.kind,
            }
            .into());
        }
        let real_owner =
            !is_mirror_login(&who.login) && store.owners(existing.id)?.contains(&who.login);
        if hidden && !real_owner {
            return Ok(Some(existing));
        }
        self.check_owner(store, who, &existing)?;
        if let Some(clash) = store.clashing_version(existing.id, &plan.version)? {
            return Err(StoreError::VersionExists {
                name: plan.name.to_string(),
                existing: clash,
            }
            .into());
        }
        Ok(None)
    }

    /// Checks a publisher's signed statement: it must be over exactly this
    /// name, version and checksum, by a key the publisher registered.
    fn verify_publisher_signature(
        &self,
        who: &Identity,
        name: &PackageName,
        version: &semver::Version,
        cksum: &Sha256Digest,
        envelope: &sign::Envelope,
    ) -> Result<index::Provenance, RegistryError> {
        let registered = self.reader().publisher_keys(&who.login)?;
        if registered.is_empty() {
            return Err(RegistryError::BadRequest(format!(
                "the publish is signed, but `{}` has no registered key; run `skillreg publisher-key register KEYFILE` first",
                who.login
            )));
        }
        let expected = sign::canonical(&sign::PublisherStatement::new(
            name.as_str(),
            &version.to_string(),
            &cksum.to_hex(),
        ));
        let payload = envelope.payload_bytes().map_err(|e| {
            RegistryError::BadRequest(format!("the publisher signature is malformed: {e}"))
        })?;
        if payload != expected {
            return Err(RegistryError::BadRequest(format!(
                "the publisher signature is over a different statement; it must sign exactly {}",
                String::from_utf8_lossy(&expected)
            )));
        }
        let keys = registered
            .iter()
            .map(|k| {
                (
                    k.keyid.clone(),
                    sign::PublicKey {
                        keytype: "ed25519".into(),
                        public: k.public_key.clone(),
                    },
                )
            })
            .collect();
        let role = sign::RoleKeys {
            keyids: registered.iter().map(|k| k.keyid.clone()).collect(),
            threshold: 1,
        };
        envelope
            .verify(sign::types::PUBLISHER, "publisher", &role, &keys)
            .map_err(|e| {
                RegistryError::BadRequest(format!("the publisher signature was refused: {e}"))
            })?;
        let signer = envelope
            .signatures
            .iter()
            .find_map(|s| {
                registered
                    .iter()
                    .find(|k| k.keyid == s.keyid)
                    .map(|k| (s, k))
            })
            .expect("verify found a registered signer");
        Ok(index::Provenance {
            publisher: who.login.clone(),
            keyid: signer.1.keyid.clone(),
            public_key: signer.1.public_key.clone(),
            sig: signer.0.sig.clone(),
        })
    }
}

/// Converts cargo's publish deps to index deps, checking names and requirements.
/// Skills and plugins declare their dependencies in the manifest (added by
/// [`manifest_dep`] after validation), so their publish JSON must have none.
fn index_deps(meta: &PublishMetadata, kind: Kind) -> Result<Vec<IndexDep>, RegistryError> {
    if kind != Kind::Crate && !meta.deps.is_empty() {
        return Err(RegistryError::BadRequest(
            "the publish metadata lists dependencies in `deps`, but dependencies of skills and plugins are declared in the manifest (`metadata.dependencies` in SKILL.md, `dependencies` in plugin.json); send `\"deps\": []`".into(),
        ));
    }
    meta.deps
        .iter()
        .map(|d| {
            PackageName::parse(Kind::Crate, &d.name)?;
            semver::VersionReq::parse(&d.version_req).map_err(|e| {
                RegistryError::BadRequest(format!(
                    "dependency `{}` has an invalid version requirement `{}`: {e}",
                    d.name, d.version_req
                ))
            })?;
            if !matches!(d.kind.as_str(), "normal" | "dev" | "build") {
                return Err(RegistryError::BadRequest(format!(
                    "dependency `{}` has kind `{}`; use normal, dev or build",
                    d.name, d.kind
                )));
            }
            let (name, package) = match &d.explicit_name_in_toml {
                Some(alias) => (alias.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            Ok(IndexDep {
                name,
                req: d.version_req.clone(),
                features: d.features.clone(),
                optional: d.optional,
                default_features: d.default_features,
                target: d.target.clone(),
                kind: d.kind.clone(),
                registry: d.registry.clone(),
                package,
            })
        })
        .collect()
}

/// The index form of a dependency declared in a skill or plugin manifest: a
/// plain normal dependency on a package of this registry.
fn manifest_dep(d: &bundle::Dependency) -> IndexDep {
    IndexDep {
        name: d.name.clone(),
        req: d.req.clone(),
        features: Vec::new(),
        optional: false,
        default_features: true,
        target: None,
        kind: "normal".into(),
        registry: None,
        package: None,
    }
}

/// Splits features as crates.io does: those using `dep:` or `?/` go to
/// `features2`, so older cargo versions skip only what they cannot read.
type FeatureMap = BTreeMap<String, Vec<String>>;

fn split_features(all: &FeatureMap) -> (FeatureMap, Option<FeatureMap>) {
    let (new, old): (FeatureMap, FeatureMap) = all
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(_, values)| {
            values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
    (old, (!new.is_empty()).then_some(new))
}
