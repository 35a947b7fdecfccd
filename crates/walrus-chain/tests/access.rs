//! Access control on chain: each kind of policy evaluated as a key server evaluates it
//! (`access::allows` on the objects it read), allowlists changed by their owner alone,
//! subscriptions paid to the seller and expiring with the epochs, time-locks opening with the
//! chain's time, and key servers registered only with a valid proof of possession.

use crate::common;

use common::*;
use walrus_chain::access::{allows, key_server_object_id, AccessDenied, PolicyKind};
use walrus_chain::objects::{Object, ObjectBody};
use walrus_chain::*;
use walrus_core::{Epoch, ObjectId};
use walrus_seal::bls::Scalar;
use walrus_seal::ibe;

fn create(net: &mut Net, user: usize, kind: PolicyKind) -> ObjectId {
    net.ok(user, Call::CreatePolicy { kind }).created[0]
}

fn identity(policy: ObjectId) -> Vec<u8> {
    [policy.0.as_slice(), b"nonce-1"].concat()
}

/// Whether user `user` may have the key of `policy`'s identity now (with `subscription`).
fn may(net: &Net, policy: ObjectId, user: usize, subscription: Option<ObjectId>) -> Result<(), AccessDenied> {
    let object: Option<Object> = net.state.object(&policy);
    let clock = (net.state.timestamp_ms, net.state.system.epoch());
    let subscription = subscription.and_then(|id| net.state.object(&id));
    allows(&identity(policy), object.as_ref(), net.users[user].address(), clock, subscription.as_ref())
}

#[test]
fn private_and_allowlist_policies_follow_their_owner() {
    let mut net = Net::new();
    let private = create(&mut net, 0, PolicyKind::Private);
    assert_eq!(may(&net, private, 0, None), Ok(()));
    assert!(matches!(may(&net, private, 1, None), Err(AccessDenied::NotAllowed { .. })));

    let list = create(&mut net, 0, PolicyKind::Allowlist { members: Default::default() });
    assert!(may(&net, list, 1, None).is_err());
    let one = net.users[1].address();
    net.ok(0, Call::UpdateAllowlist { policy: list, add: vec![one], remove: vec![] });
    assert_eq!(may(&net, list, 1, None), Ok(()));
    // Only the owner changes it.
    let effects =
        net.run(1, Call::UpdateAllowlist { policy: list, add: vec![net.users[2].address()], remove: vec![] });
    assert_eq!(failure(&effects), "ENotOwner");
    net.ok(0, Call::UpdateAllowlist { policy: list, add: vec![], remove: vec![one] });
    assert!(may(&net, list, 1, None).is_err(), "a removed address is refused");
    assert_eq!(
        failure(&net.run(0, Call::UpdateAllowlist { policy: private, add: vec![one], remove: vec![] })),
        "EInvalidPolicy"
    );

    // Identities outside a policy's namespace, and objects that are not policies.
    let object = net.state.object(&list);
    let object = object.as_ref();
    let clock = (net.state.timestamp_ms, net.state.system.epoch());
    assert_eq!(allows(b"short", object, one, clock, None), Err(AccessDenied::NotInNamespace));
    let other = [ObjectId([9; 32]).0.as_slice(), b"n"].concat();
    assert!(matches!(allows(&other, object, one, clock, None), Err(AccessDenied::NoPolicy(_))));
}

#[test]
fn a_time_lock_opens_at_its_time() {
    let mut net = Net::new();
    let unlock_ms = net.state.timestamp_ms + 60_000;
    let lock = create(&mut net, 0, PolicyKind::TimeLock { unlock_ms });
    assert!(matches!(may(&net, lock, 1, None), Err(AccessDenied::Locked { .. })));
    net.run_at(
        unlock_ms,
        &net.key_of(net.users[2].address()),
        Call::Transfer { to: net.users[1].address(), amount: Frost(1) },
    );
    assert_eq!(may(&net, lock, 1, None), Ok(()), "anyone, once the chain's time has come");
}

#[test]
fn a_subscription_is_paid_to_the_seller_and_expires() {
    let mut net = Net::new();
    let price = Frost::from_wal(2).expect("fits");
    let policy = create(&mut net, 0, PolicyKind::Subscription { price, epochs: 1 });
    assert!(matches!(may(&net, policy, 1, None), Err(AccessDenied::NoSubscription { .. })));
    let seller = net.state.account(&net.users[0].address()).balance;
    let subscription = net.ok(1, Call::Subscribe { policy }).created[0];
    assert_eq!(
        net.state.account(&net.users[0].address()).balance,
        Frost(seller.0 + price.0),
        "the seller is paid"
    );
    assert_eq!(may(&net, policy, 1, Some(subscription)), Ok(()), "at once");
    // Someone else's subscription does not serve, nor another policy's.
    assert!(may(&net, policy, 2, Some(subscription)).is_err());
    let other = create(&mut net, 0, PolicyKind::Subscription { price, epochs: 1 });
    assert!(may(&net, other, 1, Some(subscription)).is_err());
    match &net.state.object(&subscription).expect("a live object").body {
        ObjectBody::Subscription(s) => assert_eq!(s.expires_epoch, Epoch(net.state.system.epoch().0 + 1)),
        other => panic!("a subscription expected, got {other:?}"),
    }
    net.next_epoch();
    assert!(
        matches!(may(&net, policy, 1, Some(subscription)), Err(AccessDenied::NoSubscription { .. })),
        "expired"
    );
    assert_eq!(failure(&net.run(1, Call::Subscribe { policy: ObjectId([3; 32]) })), "EObjectNotFound");
    assert_eq!(
        failure(&net.run(1, Call::CreatePolicy { kind: PolicyKind::Subscription { price, epochs: 0 } })),
        "EInvalidPolicy"
    );
}

#[test]
fn key_servers_register_with_a_proof_of_possession() {
    let mut net = Net::new();
    let master = Scalar::from_be_bytes(&[0x33; 32]).expect("a scalar");
    let public = ibe::public_key(&master).to_bytes();
    let id = key_server_object_id(&public);
    let pop = ibe::proof_of_possession(&master, &id.0).to_bytes();
    let register = |name: &str, url: &str, public: &[u8], pop: &[u8]| Call::RegisterKeyServer {
        name: name.into(),
        url: url.into(),
        public_key: public.to_vec(),
        pop: pop.to_vec(),
    };
    // A proof for another object, another key's proof, bad sizes and URLs are refused.
    let other = ibe::proof_of_possession(&master, &[0; 32]).to_bytes();
    assert_eq!(
        failure(&net.run(2, register("ks", "http://127.0.0.1:1", &public, &other))),
        "EInvalidProofOfPossession"
    );
    assert_eq!(
        failure(&net.run(2, register("ks", "http://127.0.0.1:1", &public[..95], &pop))),
        "EInvalidKeyServer"
    );
    assert_eq!(failure(&net.run(2, register("ks", "ftp://x", &public, &pop))), "EInvalidKeyServer");
    let effects = net.ok(2, register("ks", "http://127.0.0.1:1", &public, &pop));
    assert_eq!(effects.created, vec![id]);
    assert!(net.state.key_servers.contains(&id));
    assert_eq!(
        failure(&net.run(1, register("again", "http://127.0.0.1:2", &public, &pop))),
        "EInvalidKeyServer"
    );
    assert_eq!(net.state.records.root(), net.state.records.recomputed_root());
}

#[test]
fn an_allowlist_has_one_encoding() {
    let (a, b) = (walrus_core::keys::Address([1; 32]), walrus_core::keys::Address([2; 32]));
    let kind = PolicyKind::Allowlist { members: [a, b].into() };
    let bytes = bcs::to_bytes(&kind).expect("BCS");
    assert_eq!(bcs::from_bytes::<PolicyKind>(&bytes).expect("decodes"), kind);
    // The same set written out of order, or with a repeat, is not a valid encoding.
    let mut swapped = bytes.clone();
    swapped[2..34].copy_from_slice(&b.0);
    swapped[34..66].copy_from_slice(&a.0);
    assert!(bcs::from_bytes::<PolicyKind>(&swapped).is_err());
    let mut repeated = bytes;
    repeated[34..66].copy_from_slice(&a.0);
    assert!(bcs::from_bytes::<PolicyKind>(&repeated).is_err());
}
