//! Walrus Sites on chain, as the reference's `walrus_site::site` Move module keeps them: a
//! [`Site`] object (name, metadata, routes, redirects) owned by its publisher, one
//! [`SiteResource`] object per path (the reference's dynamic fields, here objects owned by the
//! site with an ID derived from the site and the path), and [`SiteName`] objects, a simple name
//! registry standing in for SuiNS. Patterns and the portal's base36 names are in
//! [`pattern`] and [`base36`].

pub mod base36;
pub mod pattern;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::Address;
use walrus_core::{BlobId, ObjectId};

use crate::error::ExecError;
use crate::objects::{Object, ObjectBody, Owner};
use crate::state::Overlay;

/// Longest site name or metadata field, in bytes.
pub const SITE_TEXT_BYTES_MAX: usize = 1024;
/// Longest resource path, in bytes.
pub const PATH_BYTES_MAX: usize = 1024;
/// Most headers on one resource.
pub const HEADERS_MAX: usize = 64;
/// Most bytes of header names and values on one resource.
pub const HEADER_BYTES_MAX: usize = 8 * 1024;
/// Most routes, and most redirects, on one site.
pub const PATTERNS_MAX: usize = 1024;
/// Most resources on one site.
pub const SITE_RESOURCES_MAX: u64 = 100_000;
/// Most resources one update may put or remove (a transaction is at most 128 KiB anyway).
pub const SITE_BATCH_MAX: usize = 1000;
/// Longest registered name; names start with a letter, so none reads as a base36 object ID.
pub const NAME_BYTES_MAX: usize = 40;
/// The header naming a resource's patch within its quilt: `0x` and the hex of the five bytes
/// after the quilt ID in the patch ID (version 1, start and end column as `u16` LE).
pub const QUILT_PATCH_HEADER: &str = "x-wal-quilt-patch-internal-id";

/// A site's descriptive fields (the reference's `Metadata`), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteMetadata {
    /// A link to the site.
    #[serde(default)]
    pub link: Option<String>,
    /// An image URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The project's URL.
    #[serde(default)]
    pub project_url: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub creator: Option<String>,
}

/// Where a redirect sends the client, with which status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The `Location` header.
    pub location: String,
    /// 301, 302, 303, 307 or 308.
    pub status_code: u16,
}

/// A Walrus Site: its name, metadata, routes (pattern → resource path), redirects (pattern →
/// redirect) and how many resources it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// The object's ID.
    pub id: ObjectId,
    /// Its name.
    pub name: String,
    /// Its metadata.
    pub metadata: SiteMetadata,
    /// Resources it holds (each a [`SiteResource`] object).
    pub resources: u64,
    /// Routes, by pattern.
    pub routes: BTreeMap<String, String>,
    /// Redirects, by pattern.
    pub redirects: BTreeMap<String, Redirect>,
}

/// A byte range of a blob (the reference's `Range`): `start` inclusive, `end` inclusive, as an
/// HTTP `Range: bytes=start-end` header sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRange {
    /// First byte, if bounded.
    pub start: Option<u64>,
    /// Last byte, if bounded.
    pub end: Option<u64>,
}

/// One file of a site (the reference's `Resource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Its path, from `/`.
    pub path: String,
    /// HTTP headers served with it (names in lower case).
    pub headers: BTreeMap<String, String>,
    /// The blob (or quilt) holding it.
    pub blob_id: BlobId,
    /// SHA-256 of its bytes, as served.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub blob_hash: Digest,
    /// The part of the blob it is, if not all of it.
    pub range: Option<ResourceRange>,
}

impl Resource {
    /// The quilt patch it is, from [`QUILT_PATCH_HEADER`]: `(start, end)` columns.
    pub fn quilt_patch(&self) -> Option<(u16, u16)> {
        let value = self.headers.get(QUILT_PATCH_HEADER)?;
        let bytes = hex::decode(value.strip_prefix("0x")?).ok()?;
        match bytes.as_slice() {
            [1, s0, s1, e0, e1] => Some((u16::from_le_bytes([*s0, *s1]), u16::from_le_bytes([*e0, *e1]))),
            _ => None,
        }
    }
}

/// A resource object: the site it belongs to and the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteResource {
    /// The site.
    pub site: ObjectId,
    /// The resource.
    pub resource: Resource,
}

/// A registered name and the site it points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteName {
    /// The name.
    pub name: String,
    /// The site.
    pub site: ObjectId,
}

/// One batch of changes to a site; removals run before puts, and a put replaces the resource
/// at its path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteUpdate {
    /// The site.
    pub site: ObjectId,
    /// A new name.
    pub name: Option<String>,
    /// New metadata.
    pub metadata: Option<SiteMetadata>,
    /// All the routes, replacing the present ones.
    pub routes: Option<BTreeMap<String, String>>,
    /// All the redirects, replacing the present ones.
    pub redirects: Option<BTreeMap<String, Redirect>>,
    /// Paths to remove (each must be present).
    pub remove: Vec<String>,
    /// Resources to add or replace.
    pub put: Vec<Resource>,
}

/// The ID of the resource object for `path` on `site`.
pub fn resource_object_id(site: &ObjectId, path: &str) -> ObjectId {
    ObjectId(blake2b256_parts(&[b"walrus-chain/site-resource/v1", &site.0, path.as_bytes()]))
}

/// The ID of the name object for `name`.
pub fn name_object_id(name: &str) -> ObjectId {
    ObjectId(blake2b256_parts(&[b"walrus-chain/site-name/v1", name.as_bytes()]))
}

fn invalid(what: &'static str) -> ExecError {
    ExecError::InvalidSite(what)
}

fn check_text(text: &str) -> Result<(), ExecError> {
    if text.len() > SITE_TEXT_BYTES_MAX {
        return Err(ExecError::LimitExceeded { what: "site text bytes", max: SITE_TEXT_BYTES_MAX as u64 });
    }
    Ok(())
}

fn check_metadata(metadata: &SiteMetadata) -> Result<(), ExecError> {
    let SiteMetadata { link, image_url, description, project_url, creator } = metadata;
    [link, image_url, description, project_url, creator].into_iter().flatten().try_for_each(|t| check_text(t))
}

/// Checks a resource path: from `/`, at most [`PATH_BYTES_MAX`] bytes, no control characters.
pub fn check_path(path: &str) -> Result<(), ExecError> {
    if !path.starts_with('/') {
        return Err(invalid("a path starts with '/'"));
    }
    if path.len() > PATH_BYTES_MAX {
        return Err(ExecError::LimitExceeded { what: "path bytes", max: PATH_BYTES_MAX as u64 });
    }
    if path.chars().any(char::is_control) {
        return Err(invalid("a path has no control characters"));
    }
    Ok(())
}

/// Checks a registered name: 1 to [`NAME_BYTES_MAX`] of `a-z`, `0-9` and `-`, from a letter,
/// not ending in `-` (a DNS label that never reads as a base36 object ID).
pub fn check_name(name: &str) -> Result<(), ExecError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid("a name is 1 to 40 of a-z, 0-9 and '-', from a letter, not ending in '-'"))
    }
}

fn check_resource(resource: &Resource) -> Result<(), ExecError> {
    check_path(&resource.path)?;
    if resource.headers.len() > HEADERS_MAX {
        return Err(ExecError::LimitExceeded { what: "headers", max: HEADERS_MAX as u64 });
    }
    let bytes: usize = resource.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > HEADER_BYTES_MAX {
        return Err(ExecError::LimitExceeded { what: "header bytes", max: HEADER_BYTES_MAX as u64 });
    }
    let header_ok = |(k, v): (&String, &String)| {
        !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_graphic() && b != b':' && !b.is_ascii_uppercase())
            && v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    };
    if !resource.headers.iter().all(header_ok) {
        return Err(invalid("header names are lower-case tokens and values visible ASCII"));
    }
    if let Some(range) = resource.range {
        match (range.start, range.end) {
            (None, None) => return Err(invalid("a range has a start or an end")),
            (Some(start), Some(end)) if end < start => return Err(invalid("a range ends after it starts")),
            _ => {}
        }
    }
    Ok(())
}

fn check_routes(routes: &BTreeMap<String, String>) -> Result<(), ExecError> {
    if routes.len() > PATTERNS_MAX {
        return Err(ExecError::LimitExceeded { what: "routes", max: PATTERNS_MAX as u64 });
    }
    routes.iter().try_for_each(|(pattern, path)| {
        pattern::check(pattern).map_err(invalid)?;
        check_path(path)
    })
}

fn check_redirects(redirects: &BTreeMap<String, Redirect>) -> Result<(), ExecError> {
    if redirects.len() > PATTERNS_MAX {
        return Err(ExecError::LimitExceeded { what: "redirects", max: PATTERNS_MAX as u64 });
    }
    redirects.iter().try_for_each(|(pattern, redirect)| {
        pattern::check(pattern).map_err(invalid)?;
        check_text(&redirect.location)?;
        if redirect.location.is_empty() || redirect.location.chars().any(char::is_control) {
            return Err(invalid("a redirect's location is visible text"));
        }
        if ![301, 302, 303, 307, 308].contains(&redirect.status_code) {
            return Err(invalid("a redirect's status is 301, 302, 303, 307 or 308"));
        }
        Ok(())
    })
}

/// Creates a site owned by `sender`.
pub(crate) fn create(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    metadata: &SiteMetadata,
) -> Result<ObjectId, ExecError> {
    check_text(name)?;
    check_metadata(metadata)?;
    let id = o.new_object_id();
    let site = Site {
        id,
        name: name.to_string(),
        metadata: metadata.clone(),
        resources: 0,
        routes: BTreeMap::new(),
        redirects: BTreeMap::new(),
    };
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Site(site) });
    Ok(id)
}

fn owned_site(o: &Overlay<'_>, sender: Address, id: ObjectId) -> Result<Site, ExecError> {
    match o.owned(id, sender)?.body {
        ObjectBody::Site(site) => Ok(site),
        _ => Err(ExecError::WrongObjectType { object: id, expected: "site" }),
    }
}

/// Applies one batch of changes to a site `sender` owns.
pub(crate) fn update(o: &mut Overlay<'_>, sender: Address, update: &SiteUpdate) -> Result<(), ExecError> {
    let mut site = owned_site(o, sender, update.site)?;
    if update.put.len() + update.remove.len() > SITE_BATCH_MAX {
        return Err(ExecError::LimitExceeded { what: "resources in one update", max: SITE_BATCH_MAX as u64 });
    }
    if let Some(name) = &update.name {
        check_text(name)?;
        site.name.clone_from(name);
    }
    if let Some(metadata) = &update.metadata {
        check_metadata(metadata)?;
        site.metadata = metadata.clone();
    }
    if let Some(routes) = &update.routes {
        check_routes(routes)?;
        site.routes.clone_from(routes);
    }
    if let Some(redirects) = &update.redirects {
        check_redirects(redirects)?;
        site.redirects.clone_from(redirects);
    }
    for path in &update.remove {
        let id = resource_object_id(&site.id, path);
        match o.object(id) {
            Ok(Object { body: ObjectBody::SiteResource(_), .. }) => o.delete_object(id),
            _ => return Err(ExecError::ResourceNotFound(path.clone())),
        }
        site.resources -= 1;
    }
    for resource in &update.put {
        check_resource(resource)?;
        let id = resource_object_id(&site.id, &resource.path);
        if o.object(id).is_err() {
            site.resources += 1;
        }
        let body = ObjectBody::SiteResource(SiteResource { site: site.id, resource: resource.clone() });
        o.put_object(id, Object { owner: Owner::Object(site.id), body });
    }
    if site.resources > SITE_RESOURCES_MAX {
        return Err(ExecError::LimitExceeded { what: "resources on a site", max: SITE_RESOURCES_MAX });
    }
    o.put_object(site.id, Object { owner: Owner::Address(sender), body: ObjectBody::Site(site) });
    Ok(())
}

/// Deletes a site `sender` owns, with its routes and redirects; its resources must have been
/// removed first (at most [`SITE_BATCH_MAX`] go in one update).
pub(crate) fn destroy(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), ExecError> {
    let site = owned_site(o, sender, id)?;
    if site.resources > 0 {
        return Err(ExecError::SiteNotEmpty { resources: site.resources });
    }
    o.delete_object(id);
    Ok(())
}

/// Points `name` at `site` (registering it to `sender` if it is free), or with `None`
/// releases it; a registered name is an object its owner may transfer.
pub(crate) fn set_name(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    site: Option<ObjectId>,
) -> Result<(), ExecError> {
    check_name(name)?;
    let id = name_object_id(name);
    let registered = o.object(id).is_ok();
    if registered {
        o.owned(id, sender)?;
    }
    match site {
        Some(site) => {
            if !matches!(o.object(site)?.body, ObjectBody::Site(_)) {
                return Err(ExecError::WrongObjectType { object: site, expected: "site" });
            }
            let body = ObjectBody::SiteName(SiteName { name: name.to_string(), site });
            o.put_object(id, Object { owner: Owner::Address(sender), body });
        }
        None if registered => o.delete_object(id),
        None => return Err(ExecError::ObjectNotFound(id)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quilt_patch_header_parses_the_reference_form() {
        let mut resource = Resource {
            path: "/index.html".into(),
            headers: BTreeMap::new(),
            blob_id: BlobId([0; 32]),
            blob_hash: [0; 32],
            range: None,
        };
        assert_eq!(resource.quilt_patch(), None);
        resource.headers.insert(QUILT_PATCH_HEADER.into(), "0x0103000500".into());
        assert_eq!(resource.quilt_patch(), Some((3, 5)));
        resource.headers.insert(QUILT_PATCH_HEADER.into(), "0x0203000500".into());
        assert_eq!(resource.quilt_patch(), None);
    }

    #[test]
    fn names_never_read_as_object_ids() {
        for good in ["docs", "a", "my-site-2", &"a".repeat(40)] {
            check_name(good).expect("valid");
            assert!(base36::decode(good).is_none(), "{good}");
        }
        for bad in ["", "2fast", "-a", "a-", "Docs", "a.b", &"a".repeat(41)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_ids_differ_by_site_and_path() {
        let (a, b) = (ObjectId([1; 32]), ObjectId([2; 32]));
        assert_ne!(resource_object_id(&a, "/x"), resource_object_id(&b, "/x"));
        assert_ne!(resource_object_id(&a, "/x"), resource_object_id(&a, "/y"));
        assert_ne!(name_object_id("x"), name_object_id("y"));
    }
}
