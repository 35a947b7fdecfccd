//! Seal-style access control on chain (issue 19). Our chain has no smart-contract VM, so the
//! policies Seal's examples write in Move are built-in kinds of [`Policy`] object: private
//! (its owner only), allowlist (its owner and the addresses it lists), time-lock (anyone from a
//! time on) and subscription (anyone holding a paid, unexpired [`Subscription`]; the price goes
//! to the policy's owner). An encrypted blob's identity is `policy ID || nonce` under the
//! package ID [`seal_package_id`] (the chain ID): [`allows`] is what a key server evaluates,
//! on objects it read with proofs, before it hands out that identity's key.
//!
//! Key servers register as [`KeyServerInfo`] objects whose ID is derived from their public key,
//! with a proof of possession of the master key checked on chain.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::Address;
use walrus_core::{Epoch, ObjectId};

use crate::amount::Frost;
use crate::error::ExecError;
use crate::objects::{Object, ObjectBody, Owner};
use crate::state::Overlay;

/// Most addresses on one allowlist.
pub const ALLOWLIST_MAX: usize = 1000;
/// Longest key server name, in bytes.
pub const KEY_SERVER_NAME_BYTES_MAX: usize = 100;
/// Longest key server URL, in bytes.
pub const KEY_SERVER_URL_BYTES_MAX: usize = 512;
/// Longest nonce after the policy ID in an identity.
pub const IDENTITY_NONCE_BYTES_MAX: usize = 1024;

/// What a policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyKind {
    /// The policy's owner only.
    Private,
    /// The owner and these addresses.
    Allowlist {
        /// The allowed addresses (in BCS, strictly increasing: one encoding per set).
        #[serde(with = "canonical_set")]
        members: BTreeSet<Address>,
    },
    /// Anyone, from this chain time (ms since the Unix epoch) on.
    TimeLock {
        /// When it opens.
        unlock_ms: u64,
    },
    /// The owner, and holders of an unexpired subscription bought for `price` per `epochs`.
    Subscription {
        /// What a subscription costs, paid to the owner.
        price: Frost,
        /// Epochs a subscription lasts.
        epochs: u32,
    },
}

/// A set as a sequence that must be strictly increasing when read, so that a set has exactly
/// one encoding (a transaction's bytes are its identity).
mod canonical_set {
    use std::collections::BTreeSet;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize + Ord>(set: &BTreeSet<T>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(set)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de> + Ord>(
        d: D,
    ) -> Result<BTreeSet<T>, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        if items.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(serde::de::Error::custom("a set's members must be strictly increasing"));
        }
        Ok(items.into_iter().collect())
    }
}

/// An access policy: the namespace of the identities it governs is its ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The object's ID.
    pub id: ObjectId,
    /// What it allows.
    pub kind: PolicyKind,
}

/// A paid subscription to a policy, owned by the subscriber (transferable, as Seal's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The object's ID.
    pub id: ObjectId,
    /// The policy.
    pub policy: ObjectId,
    /// The first epoch it no longer covers.
    pub expires_epoch: Epoch,
}

/// A registered key server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyServerInfo {
    /// The object's ID ([`key_server_object_id`] of its public key).
    pub id: ObjectId,
    /// Its name.
    pub name: String,
    /// Where it answers (`http://HOST:PORT` or `https://…`).
    pub url: String,
    /// Its IBE public key (compressed G2).
    pub public_key: Vec<u8>,
}

/// The package ID of this chain's policies in Seal's `EncryptedObject`: the chain ID, so that a
/// key is never valid on another chain.
pub fn seal_package_id(chain_id: &Digest) -> [u8; 32] {
    *chain_id
}

/// The object ID of the key server with `public_key`.
pub fn key_server_object_id(public_key: &[u8]) -> ObjectId {
    ObjectId(blake2b256_parts(&[b"walrus-chain/key-server/v1", public_key]))
}

/// The policy an identity belongs to: its first 32 bytes; the rest is a nonce of at most
/// [`IDENTITY_NONCE_BYTES_MAX`] bytes.
pub fn policy_of_identity(identity: &[u8]) -> Option<ObjectId> {
    if identity.len() < 32 || identity.len() > 32 + IDENTITY_NONCE_BYTES_MAX {
        return None;
    }
    Some(ObjectId(identity[..32].try_into().expect("32 bytes")))
}

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// The identity is not `policy ID || nonce`.
    #[error("the identity is not a policy ID and a nonce of at most 1 KiB")]
    NotInNamespace,
    /// No such policy.
    #[error("policy {0} does not exist")]
    NoPolicy(ObjectId),
    /// The object is not a policy.
    #[error("{0} is not a policy")]
    NotAPolicy(ObjectId),
    /// The user is neither the owner nor allowed.
    #[error("{user} may not decrypt under policy {policy}")]
    NotAllowed {
        /// The policy.
        policy: ObjectId,
        /// The user.
        user: Address,
    },
    /// A time-lock not open yet.
    #[error("policy {policy} opens at {unlock_ms} ms, the chain is at {now_ms} ms")]
    Locked {
        /// The policy.
        policy: ObjectId,
        /// When it opens.
        unlock_ms: u64,
        /// The chain's time.
        now_ms: u64,
    },
    /// No valid subscription.
    #[error("{user} holds no unexpired subscription to policy {policy}")]
    NoSubscription {
        /// The policy.
        policy: ObjectId,
        /// The user.
        user: Address,
    },
}

/// Whether `user` may have the key of `identity`, given the policy object the identity names,
/// the chain's time and epoch, and (for a subscription) the subscription object the user names.
/// The objects come from one state the caller verified.
pub fn allows(
    identity: &[u8],
    policy: Option<&Object>,
    user: Address,
    (now_ms, epoch): (u64, Epoch),
    subscription: Option<&Object>,
) -> Result<(), AccessDenied> {
    let policy_id = policy_of_identity(identity).ok_or(AccessDenied::NotInNamespace)?;
    let policy_object = policy.ok_or(AccessDenied::NoPolicy(policy_id))?;
    let ObjectBody::Policy(found) = &policy_object.body else {
        return Err(AccessDenied::NotAPolicy(policy_id));
    };
    if found.id != policy_id {
        return Err(AccessDenied::NoPolicy(policy_id));
    }
    let is_owner = policy_object.owner == Owner::Address(user);
    let not_allowed = AccessDenied::NotAllowed { policy: policy_id, user };
    match &found.kind {
        PolicyKind::Private if is_owner => Ok(()),
        PolicyKind::Private => Err(not_allowed),
        PolicyKind::Allowlist { members } if is_owner || members.contains(&user) => Ok(()),
        PolicyKind::Allowlist { .. } => Err(not_allowed),
        PolicyKind::TimeLock { unlock_ms } if now_ms >= *unlock_ms => Ok(()),
        PolicyKind::TimeLock { unlock_ms } => {
            Err(AccessDenied::Locked { policy: policy_id, unlock_ms: *unlock_ms, now_ms })
        }
        PolicyKind::Subscription { .. } if is_owner => Ok(()),
        PolicyKind::Subscription { .. } => match subscription {
            Some(Object { owner: Owner::Address(holder), body: ObjectBody::Subscription(s) })
                if *holder == user && s.policy == policy_id && epoch < s.expires_epoch =>
            {
                Ok(())
            }
            _ => Err(AccessDenied::NoSubscription { policy: policy_id, user }),
        },
    }
}

fn check_kind(kind: &PolicyKind) -> Result<(), ExecError> {
    match kind {
        PolicyKind::Allowlist { members } if members.len() > ALLOWLIST_MAX => {
            Err(ExecError::LimitExceeded { what: "allowlist members", max: ALLOWLIST_MAX as u64 })
        }
        PolicyKind::Subscription { epochs: 0, .. } => {
            Err(ExecError::InvalidPolicy("a subscription lasts an epoch or more"))
        }
        _ => Ok(()),
    }
}

/// Creates a policy owned by `sender`.
pub(crate) fn create_policy(
    o: &mut Overlay<'_>,
    sender: Address,
    kind: &PolicyKind,
) -> Result<ObjectId, ExecError> {
    check_kind(kind)?;
    let id = o.new_object_id();
    o.put_object(
        id,
        Object { owner: Owner::Address(sender), body: ObjectBody::Policy(Policy { id, kind: kind.clone() }) },
    );
    Ok(id)
}

/// Adds and removes addresses of an allowlist `sender` owns.
pub(crate) fn update_allowlist(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    (add, remove): (&[Address], &[Address]),
) -> Result<(), ExecError> {
    let ObjectBody::Policy(mut policy) = o.owned(id, sender)?.body else {
        return Err(ExecError::WrongObjectType { object: id, expected: "policy" });
    };
    let PolicyKind::Allowlist { members } = &mut policy.kind else {
        return Err(ExecError::InvalidPolicy("only an allowlist has members"));
    };
    for address in remove {
        members.remove(address);
    }
    members.extend(add.iter().copied());
    check_kind(&policy.kind)?;
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Policy(policy) });
    Ok(())
}

/// Buys a subscription to a subscription policy: its price goes from `sender` to the policy's
/// owner; the subscription, owned by `sender`, lasts the policy's epochs from the current one.
pub(crate) fn subscribe(
    o: &mut Overlay<'_>,
    sender: Address,
    policy_id: ObjectId,
) -> Result<ObjectId, ExecError> {
    let policy = o.object(policy_id)?.clone();
    let (
        ObjectBody::Policy(Policy { kind: PolicyKind::Subscription { price, epochs }, .. }),
        Owner::Address(seller),
    ) = (&policy.body, policy.owner)
    else {
        return Err(ExecError::InvalidPolicy("only a subscription policy sells subscriptions"));
    };
    o.debit(sender, *price)?;
    o.credit(seller, *price)?;
    let expires_epoch = Epoch(o.system().epoch().0.saturating_add(*epochs));
    let id = o.new_object_id();
    let subscription = Subscription { id, policy: policy_id, expires_epoch };
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Subscription(subscription) });
    Ok(id)
}

/// Registers a key server operated by `sender`, after checking that `pop` proves possession of
/// the master key of `public_key` for the server's object ID.
pub(crate) fn register_key_server(
    o: &mut Overlay<'_>,
    sender: Address,
    (name, url): (&str, &str),
    public_key: &[u8],
    pop: &[u8],
) -> Result<ObjectId, ExecError> {
    if name.is_empty() || name.len() > KEY_SERVER_NAME_BYTES_MAX {
        return Err(ExecError::InvalidKeyServer("a name is 1 to 100 bytes"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > KEY_SERVER_URL_BYTES_MAX {
        return Err(ExecError::InvalidKeyServer("a URL is http:// or https://, at most 512 bytes"));
    }
    let public: [u8; 96] =
        public_key.try_into().map_err(|_| ExecError::InvalidKeyServer("a public key is 96 bytes"))?;
    let pop: [u8; 48] =
        pop.try_into().map_err(|_| ExecError::InvalidKeyServer("a proof of possession is 48 bytes"))?;
    let id = key_server_object_id(&public);
    let g2 = walrus_seal::bls::G2::from_bytes(&public)
        .ok_or(ExecError::InvalidKeyServer("the public key is not a G2 point"))?;
    let g1 = walrus_seal::bls::G1::from_bytes(&pop)
        .ok_or(ExecError::InvalidKeyServer("the proof is not a G1 point"))?;
    if !walrus_seal::ibe::verify_proof_of_possession(&g1, &g2, &id.0) {
        return Err(ExecError::InvalidProofOfPossession);
    }
    if o.object(id).is_ok() {
        return Err(ExecError::InvalidKeyServer("a key server with this public key is registered"));
    }
    let info =
        KeyServerInfo { id, name: name.to_string(), url: url.to_string(), public_key: public.to_vec() };
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::KeyServer(info) });
    Ok(id)
}
