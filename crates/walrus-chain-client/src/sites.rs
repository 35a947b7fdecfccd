//! Walrus Sites as a client reads them: a site with some of its resources, and a name's site,
//! proven from one finalized state ([`crate::records`]); all of a site's resources, page by
//! page, as the validator lists them (for the publisher's own diff, not for serving).

use std::collections::BTreeMap;

use walrus_chain::objects::{Object, ObjectBody, Owner};
use walrus_chain::records::Tag;
use walrus_chain::site::{name_object_id, resource_object_id, Resource, Site};
use walrus_core::ObjectId;

use crate::client::{ChainClient, ClientError, READ_TIMEOUT};
use crate::wire::{OwnedObjectsPage, OWNED_OBJECTS_PAGE_MAX, RECORD_KEYS_MAX};

/// A site and resources of it, proven from one state.
#[derive(Debug, Clone)]
pub struct ProvenSite {
    /// The state's height.
    pub height: u64,
    /// The site's owner.
    pub owner: Owner,
    /// The site.
    pub site: Site,
    /// The paths asked for, each with its resource if the site has one there.
    pub resources: BTreeMap<String, Option<Resource>>,
}

fn unproven(reason: String) -> ClientError {
    ClientError::Unproven { url: "/v1/records".into(), reason }
}

impl ChainClient {
    /// The site `id` and its resources at `paths` (at most [`RECORD_KEYS_MAX`] - 1), proven;
    /// `None` if the state has no site with this ID.
    pub async fn proven_site(
        &self,
        id: &ObjectId,
        paths: &[&str],
    ) -> Result<Option<ProvenSite>, ClientError> {
        if paths.len() >= RECORD_KEYS_MAX {
            return Err(ClientError::Api {
                status: 400,
                code: "TooManyKeys".into(),
                reason: format!("a proven read covers at most {} paths", RECORD_KEYS_MAX - 1),
            });
        }
        let mut keys = vec![(Tag::Object, id.0)];
        keys.extend(paths.iter().map(|path| (Tag::Object, resource_object_id(id, path).0)));
        let records = self.proven_records(&keys).await?;
        let (owner, site) = match records.get::<Object>(Tag::Object, &id.0)? {
            Some(Object { owner, body: ObjectBody::Site(site) }) => (owner, site),
            _ => return Ok(None),
        };
        let mut resources = BTreeMap::new();
        for path in paths {
            let key = resource_object_id(id, path).0;
            let resource = match records.get::<Object>(Tag::Object, &key)? {
                None => None,
                Some(Object { owner: Owner::Object(parent), body: ObjectBody::SiteResource(r) })
                    if parent == *id && r.site == *id && r.resource.path == *path =>
                {
                    Some(r.resource)
                }
                Some(other) => return Err(unproven(format!("{path:?} of site {id} is {other:?}"))),
            };
            resources.insert(path.to_string(), resource);
        }
        Ok(Some(ProvenSite { height: records.header.height, owner, site, resources }))
    }

    /// The site the registered `name` points to, proven; `None` if the name is not registered.
    pub async fn proven_site_name(&self, name: &str) -> Result<Option<ObjectId>, ClientError> {
        let key = name_object_id(name).0;
        let records = self.proven_records(&[(Tag::Object, key)]).await?;
        match records.get::<Object>(Tag::Object, &key)? {
            None => Ok(None),
            Some(Object { body: ObjectBody::SiteName(found), .. }) if found.name == name => {
                Ok(Some(found.site))
            }
            Some(other) => Err(unproven(format!("name {name:?} is {other:?}"))),
        }
    }

    /// Every resource of the site `id`, read page by page from the validator (not proven).
    pub async fn site_resources(&self, id: &ObjectId) -> Result<Vec<Resource>, ClientError> {
        let mut resources = Vec::new();
        let mut after = String::new();
        loop {
            let path = format!("/v1/objects/{id}/children?limit={OWNED_OBJECTS_PAGE_MAX}{after}");
            let page: OwnedObjectsPage = self.get(&path, READ_TIMEOUT).await?;
            for view in page.objects {
                if let ObjectBody::SiteResource(r) = view.object.body {
                    resources.push(r.resource);
                }
            }
            match page.next_cursor {
                Some(cursor) => after = format!("&after={cursor}"),
                None => break,
            }
        }
        resources.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(resources)
    }
}
