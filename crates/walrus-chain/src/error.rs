//! Why a transaction failed. Each error has a stable code (the reference contract's abort name
//! where one exists) that clients may match on; the message is for people.

use walrus_core::{BlobId, Epoch, ObjectId};

use crate::amount::Frost;

/// A transaction's failure. A failed transaction changes nothing but the sender's nonce and
/// balance (the fee).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// An amount or size computation overflowed.
    #[error("arithmetic overflow")]
    ArithmeticOverflow,
    /// The account lacks the funds.
    #[error("insufficient funds: need {needed}, have {available}")]
    InsufficientFunds {
        /// The amount required.
        needed: Frost,
        /// The balance.
        available: Frost,
    },
    /// No live object has this ID.
    #[error("object {0} does not exist")]
    ObjectNotFound(ObjectId),
    /// The sender does not own the object.
    #[error("object {0} is not owned by the sender")]
    NotOwner(ObjectId),
    /// The object is of another kind than the call needs.
    #[error("object {object} is not a {expected}")]
    WrongObjectType {
        /// The object.
        object: ObjectId,
        /// The kind the call needs.
        expected: &'static str,
    },
    /// A reservation or extension reaches too far ahead (or zero epochs).
    #[error("{epochs} epochs ahead is outside 1..={max}")]
    InvalidEpochsAhead {
        /// Requested.
        epochs: u32,
        /// The system's maximum.
        max: u32,
    },
    /// A zero or otherwise unusable size.
    #[error("invalid size {0}")]
    InvalidSize(u64),
    /// Reserving would exceed the network's capacity in some epoch.
    #[error("storage capacity exceeded in epoch {epoch}: {used} of {total} bytes")]
    StorageExceeded {
        /// The epoch that would be over capacity.
        epoch: Epoch,
        /// Bytes that would be used.
        used: u64,
        /// Total capacity.
        total: u64,
    },
    /// The storage resource does not cover the current epoch (or the split point is outside it).
    #[error("storage resource epochs do not allow this")]
    ResourceBounds,
    /// The storage resource is too small for the blob, or sizes do not match for a fuse.
    #[error("storage resource size {available} does not fit {needed}")]
    ResourceSize {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// Two storage resources cannot be fused.
    #[error("storage resources are neither same-period nor adjacent same-size")]
    IncompatibleStorage,
    /// The blob ID does not follow from the root hash, size and encoding type.
    #[error("blob ID {0} does not match its root hash, size and encoding")]
    InvalidBlobId(BlobId),
    /// The blob ID was marked invalid by an invalid-blob certificate.
    #[error("blob ID {0} is marked invalid")]
    BlobIdMarkedInvalid(BlobId),
    /// Only RS2 (1) exists.
    #[error("unsupported encoding type {0}")]
    UnsupportedEncoding(u8),
    /// The blob is larger than the encoding supports at this shard count.
    #[error("blob of {0} bytes is too large")]
    BlobTooLarge(u64),
    /// The blob is already certified.
    #[error("blob is already certified")]
    AlreadyCertified,
    /// The blob is not certified.
    #[error("blob is not certified")]
    NotCertified,
    /// The blob is permanent.
    #[error("blob is not deletable")]
    NotDeletable,
    /// The blob's storage has ended.
    #[error("blob expired at epoch {0}")]
    Expired(Epoch),
    /// The signer bitmap is too long or marks a non-member.
    #[error("invalid signer bitmap")]
    InvalidBitmap,
    /// The signers do not hold enough shards.
    #[error("signers hold {weight} of {n_shards} shards, not enough")]
    NotEnoughStake {
        /// Shards held by the signers.
        weight: u64,
        /// All shards.
        n_shards: u16,
    },
    /// The aggregate signature does not verify.
    #[error("certificate signature does not verify")]
    SignatureVerification,
    /// The signed message is for another epoch.
    #[error("message is for epoch {message}, the current epoch is {current}")]
    IncorrectEpoch {
        /// The message's epoch.
        message: Epoch,
        /// The chain's epoch.
        current: Epoch,
    },
    /// The signed message has the wrong intent or cannot be parsed.
    #[error("malformed or wrong-type message: {0}")]
    InvalidMessage(&'static str),
    /// The certified message is about another blob or object, or another persistence type.
    #[error("certificate does not match the blob object")]
    CertificateMismatch,
    /// A node is not registered.
    #[error("node {0} is not registered")]
    NodeNotFound(ObjectId),
    /// The sender does not operate the node.
    #[error("the sender does not operate node {0}")]
    NotNodeOwner(ObjectId),
    /// The node is not in the current committee.
    #[error("node {0} is not in the current committee")]
    NotInCommittee(ObjectId),
    /// A sync report for an epoch other than the current one.
    #[error("sync report for epoch {got}, the current epoch is {current}")]
    InvalidSyncEpoch {
        /// The current epoch.
        current: Epoch,
        /// The report's.
        got: Epoch,
    },
    /// The node already reported this epoch's sync.
    #[error("node already reported its shards for this epoch")]
    DuplicateSyncDone,
    /// A node name or address too long, or a BLS key already registered.
    #[error("invalid node information: {0}")]
    InvalidNodeInfo(&'static str),
    /// The BLS proof of possession does not verify for the sender and epoch.
    #[error("proof of possession does not verify")]
    InvalidProofOfPossession,
    /// An attribute to remove is not there.
    #[error("blob object has no attribute {0:?}")]
    AttributeNotFound(String),
    /// The blob object is not shared (or is shared where an owned one is needed).
    #[error("object {0} is not a shared blob")]
    NotShared(ObjectId),
    /// An epoch step called before it is due (or in the wrong state).
    #[error("the {0} is not due yet")]
    EpochStepNotDue(&'static str),
    /// A stake below the minimum.
    #[error("stake below the minimum of {minimum}")]
    StakeTooSmall {
        /// The minimum.
        minimum: Frost,
    },
    /// A staked WAL is not in the state the call needs.
    #[error("staked WAL: {0}")]
    WithdrawalState(&'static str),
    /// A site, resource, route, redirect or name breaks a rule of Walrus Sites.
    #[error("invalid site: {0}")]
    InvalidSite(&'static str),
    /// A site has no resource at this path.
    #[error("the site has no resource at {0:?}")]
    ResourceNotFound(String),
    /// A policy call breaks a rule of access control.
    #[error("invalid policy: {0}")]
    InvalidPolicy(&'static str),
    /// A key server registration breaks a rule.
    #[error("invalid key server: {0}")]
    InvalidKeyServer(&'static str),
    /// A site to destroy still has resources.
    #[error("the site still has {resources} resources; remove them first")]
    SiteNotEmpty {
        /// Resources left.
        resources: u64,
    },
    /// A value exceeds a protocol limit.
    #[error("{what} exceeds its limit of {max}")]
    LimitExceeded {
        /// What is too large.
        what: &'static str,
        /// The limit.
        max: u64,
    },
    /// The sender is not one of the genesis validators.
    #[error("{0} is not a validator's account")]
    NotAValidator(walrus_core::keys::Address),
    /// A challenge step that cannot be taken now.
    #[error("challenge: {0}")]
    ChallengeStep(&'static str),
    /// A storage challenge runs: a blob object cannot be removed until its deadline.
    #[error("a storage challenge runs until its deadline (docs/challenges.md); blob objects cannot be deleted, burned or invalidated until then, retry later")]
    ChallengeDrawPending,
    /// A governance parameter or proposal out of its bounds.
    #[error("invalid governance parameter: {0}")]
    InvalidParameter(&'static str),
    /// No open proposal has that ID.
    #[error("no open proposal {0} (proposals lapse at the epoch change)")]
    ProposalNotFound(u64),
}

impl ExecError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::ArithmeticOverflow => "EArithmeticOverflow",
            ExecError::InsufficientFunds { .. } => "EInsufficientFunds",
            ExecError::ObjectNotFound(_) => "EObjectNotFound",
            ExecError::NotOwner(_) => "ENotOwner",
            ExecError::WrongObjectType { .. } => "EWrongObjectType",
            ExecError::InvalidEpochsAhead { .. } => "EInvalidEpochsAhead",
            ExecError::InvalidSize(_) => "EInvalidSize",
            ExecError::StorageExceeded { .. } => "EStorageExceeded",
            ExecError::ResourceBounds => "EResourceBounds",
            ExecError::ResourceSize { .. } => "EResourceSize",
            ExecError::IncompatibleStorage => "EIncompatibleStorage",
            ExecError::InvalidBlobId(_) => "EInvalidBlobId",
            ExecError::BlobIdMarkedInvalid(_) => "EBlobIdMarkedInvalid",
            ExecError::UnsupportedEncoding(_) => "EInvalidEncodingType",
            ExecError::BlobTooLarge(_) => "EBlobTooLarge",
            ExecError::AlreadyCertified => "EAlreadyCertified",
            ExecError::NotCertified => "ENotCertified",
            ExecError::NotDeletable => "EBlobNotDeletable",
            ExecError::Expired(_) => "EResourceBounds",
            ExecError::InvalidBitmap => "EInvalidBitmap",
            ExecError::NotEnoughStake { .. } => "ENotEnoughStake",
            ExecError::SignatureVerification => "ESigVerification",
            ExecError::IncorrectEpoch { .. } => "EIncorrectEpoch",
            ExecError::InvalidMessage(_) => "EInvalidMsgType",
            ExecError::CertificateMismatch => "EInvalidBlobPersistenceType",
            ExecError::LimitExceeded { .. } => "ELimitExceeded",
            ExecError::NodeNotFound(_) => "ENodeNotFound",
            ExecError::NotNodeOwner(_) => "EAuthorizationFailure",
            ExecError::NotInCommittee(_) => "ENotInCommittee",
            ExecError::InvalidSyncEpoch { .. } => "EInvalidSyncEpoch",
            ExecError::DuplicateSyncDone => "EDuplicateSyncDone",
            ExecError::InvalidNodeInfo(_) => "EInvalidNodeInfo",
            ExecError::InvalidProofOfPossession => "EInvalidProofOfPossession",
            ExecError::AttributeNotFound(_) => "EMissingMetadataKey",
            ExecError::NotShared(_) => "ENotShared",
            ExecError::EpochStepNotDue(_) => "EWrongEpochState",
            ExecError::StakeTooSmall { .. } => "EStakeBelowThreshold",
            ExecError::WithdrawalState(_) => "EWrongState",
            ExecError::InvalidSite(_) => "EInvalidSite",
            ExecError::ResourceNotFound(_) => "EResourceNotFound",
            ExecError::SiteNotEmpty { .. } => "ERemoveResourcesFirst",
            ExecError::InvalidPolicy(_) => "EInvalidPolicy",
            ExecError::InvalidKeyServer(_) => "EInvalidKeyServer",
            ExecError::NotAValidator(_) => "ENotAValidator",
            ExecError::ChallengeStep(_) => "EChallengeStep",
            ExecError::ChallengeDrawPending => "EChallengeDrawPending",
            ExecError::InvalidParameter(_) => "EInvalidParameter",
            ExecError::ProposalNotFound(_) => "EProposalNotFound",
        }
    }
}
