//! Walrus Sites on chain: a site's resources, routes and redirects changed in batches, owned by
//! the publisher and moving with the site when it is transferred; names registered, pointed,
//! transferred and released; the limits; destroy only once empty.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use walrus_chain::objects::{ObjectBody, Owner};
use walrus_chain::site::{
    name_object_id, resource_object_id, Redirect, Resource, SiteMetadata, SiteUpdate, SITE_BATCH_MAX,
};
use walrus_chain::*;
use walrus_core::{BlobId, ObjectId};

fn resource(path: &str, byte: u8) -> Resource {
    let headers = [("content-type".to_string(), "text/html".to_string())].into();
    Resource { path: path.into(), headers, blob_id: BlobId([byte; 32]), blob_hash: [byte; 32], range: None }
}

fn create(net: &mut Net, user: usize) -> ObjectId {
    let metadata = SiteMetadata { description: Some("a test site".into()), ..Default::default() };
    net.ok(user, Call::CreateSite { name: "test site".into(), metadata }).created[0]
}

fn site(net: &Net, id: ObjectId) -> walrus_chain::site::Site {
    match &net.state.object(&id).expect("a live object").body {
        ObjectBody::Site(site) => site.clone(),
        other => panic!("site expected, got {other:?}"),
    }
}

fn resource_at(net: &Net, site: ObjectId, path: &str) -> Option<Resource> {
    match &net.state.object(&resource_object_id(&site, path))?.body {
        ObjectBody::SiteResource(r) => Some(r.resource.clone()),
        other => panic!("resource expected, got {other:?}"),
    }
}

fn update(site: ObjectId) -> SiteUpdate {
    SiteUpdate { site, ..Default::default() }
}

#[test]
fn a_site_is_built_changed_and_destroyed_in_batches() {
    let mut net = Net::new();
    let id = create(&mut net, 0);
    assert_eq!(net.state.object(&id).expect("a live object").owner, Owner::Address(net.users[0].address()));

    let routes = BTreeMap::from([("/*".to_string(), "/index.html".to_string())]);
    let redirects =
        BTreeMap::from([("/old/*".to_string(), Redirect { location: "/new.html".into(), status_code: 301 })]);
    let put = vec![resource("/index.html", 1), resource("/css/site.css", 2), resource("/404.html", 3)];
    let effects = net.ok(
        0,
        Call::UpdateSite(SiteUpdate {
            routes: Some(routes.clone()),
            redirects: Some(redirects),
            put,
            ..update(id)
        }),
    );
    assert_eq!(effects.created.len(), 3, "one object per resource");
    let s = site(&net, id);
    assert_eq!((s.resources, &s.routes), (3, &routes));
    assert_eq!(resource_at(&net, id, "/css/site.css"), Some(resource("/css/site.css", 2)));
    let resource_id = resource_object_id(&id, "/index.html");
    assert_eq!(net.state.object(&resource_id).expect("a live object").owner, Owner::Object(id));
    assert_eq!(net.state.child_objects(&id, None, usize::MAX).len(), 3);

    // A put replaces, a remove removes; the count follows.
    net.ok(
        0,
        Call::UpdateSite(SiteUpdate {
            put: vec![resource("/index.html", 9)],
            remove: vec!["/css/site.css".into()],
            ..update(id)
        }),
    );
    assert_eq!(site(&net, id).resources, 2);
    assert_eq!(resource_at(&net, id, "/index.html"), Some(resource("/index.html", 9)));
    assert_eq!(resource_at(&net, id, "/css/site.css"), None);

    // A failing batch changes nothing: removing an absent path.
    let effects = net.run(
        0,
        Call::UpdateSite(SiteUpdate {
            put: vec![resource("/new.html", 4)],
            remove: vec!["/absent".into()],
            ..update(id)
        }),
    );
    assert_eq!(failure(&effects), "EResourceNotFound");
    assert_eq!(resource_at(&net, id, "/new.html"), None);

    // Destroy waits for the resources to go.
    assert_eq!(failure(&net.run(0, Call::DestroySite { site: id })), "ERemoveResourcesFirst");
    net.ok(
        0,
        Call::UpdateSite(SiteUpdate { remove: vec!["/index.html".into(), "/404.html".into()], ..update(id) }),
    );
    net.ok(0, Call::DestroySite { site: id });
    assert!(net.state.object(&id).is_none());
    assert!(net.state.child_objects(&id, None, 1).is_empty());
    assert_eq!(net.state.records.root(), net.state.records.recomputed_root());
}

#[test]
fn a_site_moves_with_its_owner_and_its_resources_only_with_it() {
    let mut net = Net::new();
    let id = create(&mut net, 0);
    net.ok(0, Call::UpdateSite(SiteUpdate { put: vec![resource("/index.html", 1)], ..update(id) }));
    let resource_id = resource_object_id(&id, "/index.html");
    // A resource is reachable only through its site.
    let to = net.users[1].address();
    assert_eq!(failure(&net.run(0, Call::TransferObject { object: resource_id, to })), "ENotOwner");

    net.ok(0, Call::TransferObject { object: id, to });
    assert_eq!(failure(&net.run(0, Call::UpdateSite(update(id)))), "ENotOwner");
    net.ok(1, Call::UpdateSite(SiteUpdate { put: vec![resource("/index.html", 2)], ..update(id) }));
    assert_eq!(resource_at(&net, id, "/index.html"), Some(resource("/index.html", 2)));
    assert_eq!(failure(&net.run(0, Call::DestroySite { site: id })), "ENotOwner");
}

#[test]
fn names_are_registered_pointed_transferred_and_released() {
    let mut net = Net::new();
    let (a, b) = (create(&mut net, 0), create(&mut net, 1));
    let name_id = name_object_id("docs");
    net.ok(0, Call::SetSiteName { name: "docs".into(), site: Some(a) });
    let pointed = |net: &Net| match &net.state.object(&name_id).expect("a live object").body {
        ObjectBody::SiteName(name) => name.site,
        other => panic!("name expected, got {other:?}"),
    };
    assert_eq!(pointed(&net), a);
    // Someone else cannot take it; its owner repoints it at any site.
    assert_eq!(failure(&net.run(1, Call::SetSiteName { name: "docs".into(), site: Some(b) })), "ENotOwner");
    net.ok(0, Call::SetSiteName { name: "docs".into(), site: Some(b) });
    assert_eq!(pointed(&net), b);
    // A name points at a site, and is a DNS label from a letter.
    let not_site = name_id;
    assert_eq!(
        failure(&net.run(0, Call::SetSiteName { name: "other".into(), site: Some(not_site) })),
        "EWrongObjectType"
    );
    for bad in ["Docs", "1docs", "a.b", "docs-"] {
        assert_eq!(
            failure(&net.run(0, Call::SetSiteName { name: bad.into(), site: Some(a) })),
            "EInvalidSite"
        );
    }
    // Transferred, it belongs to the new owner, who releases it.
    net.ok(0, Call::TransferObject { object: name_id, to: net.users[1].address() });
    assert_eq!(failure(&net.run(0, Call::SetSiteName { name: "docs".into(), site: None })), "ENotOwner");
    net.ok(1, Call::SetSiteName { name: "docs".into(), site: None });
    assert!(net.state.object(&name_id).is_none());
    net.ok(0, Call::SetSiteName { name: "docs".into(), site: Some(a) });
    assert_eq!(pointed(&net), a);
}

#[test]
fn bad_resources_routes_and_redirects_are_refused() {
    let mut net = Net::new();
    let id = create(&mut net, 0);
    let mut upper = resource("/a", 1);
    upper.headers.insert("Content-Type".into(), "x".into());
    let mut range = resource("/b", 1);
    range.range = Some(walrus_chain::site::ResourceRange { start: Some(9), end: Some(3) });
    let bad = [
        SiteUpdate { put: vec![resource("no-slash", 1)], ..update(id) },
        SiteUpdate { put: vec![resource(&format!("/{}", "x".repeat(1024)), 1)], ..update(id) },
        SiteUpdate { put: vec![upper], ..update(id) },
        SiteUpdate { put: vec![range], ..update(id) },
        SiteUpdate { routes: Some([("/*/*/*".into(), "/a".into())].into()), ..update(id) },
        SiteUpdate { routes: Some([("/(x)".into(), "/a".into())].into()), ..update(id) },
        SiteUpdate {
            redirects: Some([("/x".into(), Redirect { location: "/y".into(), status_code: 200 })].into()),
            ..update(id)
        },
        SiteUpdate {
            put: (0..=SITE_BATCH_MAX).map(|i| resource(&format!("/{i}"), 1)).collect(),
            ..update(id)
        },
    ];
    for bad in bad {
        let effects = net.run(0, Call::UpdateSite(bad));
        assert!(["EInvalidSite", "ELimitExceeded"].contains(&failure(&effects)), "{:?}", effects.status);
    }
    assert_eq!(site(&net, id).resources, 0);
    assert!(net.state.child_objects(&id, None, 1).is_empty());
}
