//! Transactions: what an account asks the chain to do, signed with its ed25519 key.
//!
//! The signed bytes are `Blake2b-256(0x00 0x00 0x00 || BCS(TransactionData))`: a Sui-style
//! intent prefix (transaction, version 0, Sui app) over the data's digest. The transaction's
//! digest, which names it in effects and events, is `Blake2b-256("TransactionData::" || BCS)`.

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::{
    Address, BlsSignature, Ed25519KeyPair, Ed25519PublicKey, Ed25519Signature, NetworkPublicKey,
};
use walrus_core::{BlobId, Epoch, ObjectId};

use crate::access::PolicyKind;
use crate::amount::Frost;
use crate::epoch::{NodeRegistration, Votes};
use crate::site::{SiteMetadata, SiteUpdate};

/// A transaction's digest; text form `0x` + 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxDigest(pub Digest);

walrus_core::hex32_text!(TxDigest, "transaction digest");

/// A certificate as the chain takes it: an aggregate BLS signature, the signers as a bitmap
/// over the committee's members, and the signed message bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateArgs {
    /// The aggregate signature.
    pub signature: BlsSignature,
    /// Bit `i % 8` of byte `i / 8` marks member `i`.
    pub signers_bitmap: Vec<u8>,
    /// The BCS bytes of the signed protocol message.
    pub message: Vec<u8>,
}

impl From<walrus_core::messages::Certificate> for CertificateArgs {
    /// The chain's form of an aggregate certificate: its signers as a bitmap.
    fn from(certificate: walrus_core::messages::Certificate) -> Self {
        CertificateArgs {
            signature: certificate.signature,
            signers_bitmap: walrus_core::messages::signers_to_bitmap(&certificate.signers),
            message: certificate.serialized_message,
        }
    }
}

/// What a transaction does. Tags are append-only: never reorder or remove a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Send WAL to another account.
    Transfer {
        /// The recipient.
        to: Address,
        /// The amount.
        amount: Frost,
    },
    /// Give an owned object to another account.
    TransferObject {
        /// The object.
        object: ObjectId,
        /// The new owner.
        to: Address,
    },
    /// Buy `size` encoded bytes for the current and the next `epochs_ahead - 1` epochs.
    ReserveSpace {
        /// Encoded bytes.
        size: u64,
        /// Epochs, from the current one.
        epochs_ahead: u32,
    },
    /// Cut a storage resource in time: the original keeps `start..epoch`, a new one `epoch..end`.
    SplitStorageByEpoch {
        /// The resource.
        storage: ObjectId,
        /// Where to cut.
        epoch: Epoch,
    },
    /// Cut a storage resource in size: the original keeps `size`, a new one the rest.
    SplitStorageBySize {
        /// The resource.
        storage: ObjectId,
        /// Bytes the original keeps.
        size: u64,
    },
    /// Merge `second` into `first`: same period (sizes add) or adjacent periods of one size.
    FuseStorage {
        /// The resource that remains.
        first: ObjectId,
        /// The resource that is consumed.
        second: ObjectId,
    },
    /// Drop a storage resource (its payment is not refunded).
    DestroyStorage {
        /// The resource.
        storage: ObjectId,
    },
    /// Register a blob, consuming a storage resource and paying the write price.
    RegisterBlob {
        /// The storage resource the blob uses.
        storage: ObjectId,
        /// The blob ID.
        blob_id: BlobId,
        /// The Merkle root over the sliver-pair hashes.
        #[serde(with = "walrus_core::hash::hex_digest")]
        root_hash: Digest,
        /// Unencoded length.
        size: u64,
        /// Encoding type byte (1 = RS2).
        encoding_type: u8,
        /// Whether the owner may delete it.
        deletable: bool,
    },
    /// Certify a registered blob with a storage-node certificate.
    CertifyBlob {
        /// The blob object.
        blob: ObjectId,
        /// The certificate over a `StorageConfirmation`.
        certificate: CertificateArgs,
    },
    /// Delete a deletable blob; its storage resource returns to the owner.
    DeleteBlob {
        /// The blob object.
        blob: ObjectId,
    },
    /// Destroy a blob object and its storage (the data stays until the end epoch).
    BurnBlob {
        /// The blob object.
        blob: ObjectId,
    },
    /// Extend a certified blob by `epochs`, paying the storage price.
    ExtendBlob {
        /// The blob object.
        blob: ObjectId,
        /// Additional epochs.
        epochs: u32,
    },
    /// Mark a blob ID invalid for good, with a certificate over an `InvalidBlobIdMsg`.
    InvalidateBlobId {
        /// The certificate.
        certificate: CertificateArgs,
    },
    /// Register a storage node operated by the sender (a candidate for later committees).
    RegisterNode(NodeRegistration),
    /// Replace a node's price and capacity votes; prices are recomputed at once.
    SetNodeVotes {
        /// The node.
        node_id: ObjectId,
        /// The new votes.
        votes: Votes,
    },
    /// A committee member reports that it holds all its shards for the epoch.
    EpochSyncDone {
        /// The node.
        node_id: ObjectId,
        /// The current epoch.
        epoch: Epoch,
    },
    /// Pay a node's collectable commission to its operator.
    CollectNodeRewards {
        /// The node.
        node_id: ObjectId,
    },
    /// Remove and then set attributes of an owned blob object.
    SetBlobAttributes {
        /// The blob object.
        blob: ObjectId,
        /// Pairs to insert or update.
        set: Vec<(String, String)>,
        /// Keys to remove (each must be present).
        remove: Vec<String>,
    },
    /// Turn an owned blob into a shared blob that anyone may fund and extend.
    ShareBlob {
        /// The blob object.
        blob: ObjectId,
        /// Initial funds, from the sender.
        funds: Frost,
    },
    /// Add funds to a shared blob.
    FundSharedBlob {
        /// The shared blob.
        blob: ObjectId,
        /// From the sender.
        amount: Frost,
    },
    /// Extend a shared blob, paid from its funds.
    ExtendSharedBlob {
        /// The shared blob.
        blob: ObjectId,
        /// Additional epochs.
        epochs: u32,
    },
    /// Select the next committee and capacity (anyone, at mid-epoch).
    VotingEnd,
    /// End the epoch and start the next (anyone, once the epoch has run its course).
    InitiateEpochChange,
    /// Stake WAL with a node's pool; creates a `StakedWal`.
    StakeWithPool {
        /// The node.
        node_id: ObjectId,
        /// At least 1 WAL.
        amount: Frost,
    },
    /// Ask to withdraw a `StakedWal` (paid at once when it is not earning).
    RequestWithdrawStake {
        /// The staked WAL.
        staked_wal: ObjectId,
    },
    /// Claim a `StakedWal` whose withdrawal epoch has come (or stake not active yet).
    WithdrawStake {
        /// The staked WAL.
        staked_wal: ObjectId,
    },
    /// Split `amount` of principal off a `StakedWal` into a new one.
    SplitStakedWal {
        /// The staked WAL.
        staked_wal: ObjectId,
        /// Principal of the new one.
        amount: Frost,
    },
    /// Join two `StakedWal`s of one node and activation epoch.
    JoinStakedWal {
        /// The one that remains.
        first: ObjectId,
        /// The one consumed.
        second: ObjectId,
    },
    /// Set a node's commission rate, from the epoch after next.
    SetCommissionRate {
        /// The node.
        node_id: ObjectId,
        /// Basis points (≤ 10 000).
        rate: u16,
    },
    /// Change a node's name, network address or network key (each left out keeps its value),
    /// at once: in its record and in every committee it is in (the reference's `set_name`,
    /// `set_network_address`, `set_network_public_key`). Emits `NodeInfoUpdated`.
    SetNodeInfo {
        /// The node.
        node_id: ObjectId,
        /// At most 100 bytes.
        name: Option<String>,
        /// `host:port`, at most 259 bytes.
        network_address: Option<String>,
        /// The key its TLS certificate carries from now on.
        network_public_key: Option<NetworkPublicKey>,
    },
    /// Create a Walrus Site owned by the sender.
    CreateSite {
        /// Its name.
        name: String,
        /// Its metadata.
        metadata: SiteMetadata,
    },
    /// Change a site's resources, routes, redirects, name or metadata in one batch.
    UpdateSite(SiteUpdate),
    /// Delete a site whose resources were all removed.
    DestroySite {
        /// The site.
        site: ObjectId,
    },
    /// Create an access policy owned by the sender.
    CreatePolicy {
        /// What it allows.
        kind: PolicyKind,
    },
    /// Add and remove addresses of an allowlist the sender owns.
    UpdateAllowlist {
        /// The policy.
        policy: ObjectId,
        /// Addresses to add.
        add: Vec<Address>,
        /// Addresses to remove.
        remove: Vec<Address>,
    },
    /// Buy a subscription to a subscription policy (its price goes to the policy's owner).
    Subscribe {
        /// The policy.
        policy: ObjectId,
    },
    /// Register a Seal key server operated by the sender.
    RegisterKeyServer {
        /// Its name.
        name: String,
        /// Its URL.
        url: String,
        /// Its IBE public key (96 bytes, compressed G2).
        public_key: Vec<u8>,
        /// Its proof of possession of the master key (48 bytes, compressed G1).
        pop: Vec<u8>,
    },
    /// Point a registered name at a site (registering it if free), or release it (`None`).
    SetSiteName {
        /// The name.
        name: String,
        /// The site.
        site: Option<ObjectId>,
    },
    /// Send WAL with a note of at most [`MEMO_BYTES_MAX`] bytes that the chain keeps with the
    /// transaction: an upload relay's tip, whose memo commits to the blob it pays for (the
    /// reference puts that commitment in the paying transaction's first input).
    TransferWithMemo {
        /// The recipient.
        to: Address,
        /// The amount.
        amount: Frost,
        /// The note.
        memo: Vec<u8>,
    },
    /// A validator commits to its challenge secret for `epoch` and locks the reveal bond.
    ChallengeCommit {
        /// The current epoch.
        epoch: Epoch,
        /// `walrus_core::challenge::reveal_commitment(secret)`.
        #[serde(with = "walrus_core::hash::hex_digest")]
        commitment: Digest,
    },
    /// A validator reveals its secret in the reveal window and gets its bond back.
    ChallengeReveal {
        /// The current epoch.
        epoch: Epoch,
        /// The secret.
        #[serde(with = "walrus_core::hash::hex_digest")]
        secret: Digest,
    },
    /// Starts the epoch's storage challenge once the reveal window is over (permissionless).
    StartChallenge,
    /// A prover's challenge result, signed by verifiers holding a quorum of shards.
    SubmitChallengeCertificate {
        /// The certificate over a `ChallengeResult` (intent 64).
        certificate: CertificateArgs,
    },
    /// A committee member's operator opens a governance proposal (and votes for it).
    Propose {
        /// The proposing node.
        node_id: ObjectId,
        /// What it proposes.
        proposal: crate::governance::Proposal,
    },
    /// A committee member's operator votes for an open proposal.
    Vote {
        /// The voting node.
        node_id: ObjectId,
        /// The proposal.
        proposal_id: u64,
    },
}

/// Longest memo of a [`Call::TransferWithMemo`], in bytes.
pub const MEMO_BYTES_MAX: usize = 256;

impl Call {
    /// The certificate the call carries, if it is one that does.
    pub fn certificate(&self) -> Option<&CertificateArgs> {
        match self {
            Call::CertifyBlob { certificate, .. }
            | Call::InvalidateBlobId { certificate }
            | Call::SubmitChallengeCertificate { certificate } => Some(certificate),
            _ => None,
        }
    }
}

/// The signed part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionData {
    /// The chain this transaction is for (the genesis digest); replay across chains fails.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub chain_id: Digest,
    /// The paying and acting account.
    pub sender: Address,
    /// Must equal the account's nonce; each included transaction increments it.
    pub nonce: u64,
    /// Paid whether the call succeeds or fails; at least the system's minimum fee.
    pub fee: Frost,
    /// What to do.
    pub call: Call,
}

impl TransactionData {
    /// The BCS bytes.
    pub fn to_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("transaction data is plain BCS")
    }

    /// The digest naming this transaction.
    pub fn digest(&self) -> TxDigest {
        TxDigest(blake2b256_parts(&[b"TransactionData::", &self.to_bcs()]))
    }

    /// The bytes the sender signs.
    pub fn signing_bytes(&self) -> Digest {
        blake2b256_parts(&[&[0, 0, 0], &self.to_bcs()])
    }

    /// Signs with `key` (whose address should be `sender`).
    pub fn sign(self, key: &Ed25519KeyPair) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction { data: self, public_key: key.public(), signature }
    }
}

/// A transaction with its sender's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub data: TransactionData,
    /// The sender's public key; its address must be `data.sender`.
    pub public_key: Ed25519PublicKey,
    /// The signature over `data.signing_bytes()`.
    pub signature: Ed25519Signature,
}

impl SignedTransaction {
    /// Whether the key belongs to the sender and the signature verifies.
    pub fn is_authentic(&self) -> bool {
        Address::from_ed25519(&self.public_key) == self.data.sender
            && self.public_key.verify(&self.data.signing_bytes(), &self.signature).is_ok()
    }

    /// The BCS bytes (the RPC body).
    pub fn to_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("transactions are plain BCS")
    }

    /// A digest of the whole signed transaction (data, key and signature), unlike
    /// [`TransactionData::digest`]: what a host may remember as authentic once it checked the
    /// signature, so that it does not check it again when a block carries the transaction.
    pub fn authenticity_key(&self) -> Digest {
        blake2b256_parts(&[b"walrus-chain/signed-tx/v1", &self.to_bcs()])
    }
}
