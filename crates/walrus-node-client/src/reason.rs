//! The reason codes of a storage node's refusals (the `reason` of the error body's
//! `ErrorInfo`), typed, so that the node renders them and clients decide on them without
//! comparing strings. A code this build does not know (a newer or foreign node) is kept as
//! [`Reason::Unknown`].

use std::fmt;

/// A storage node's reason code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// `NOT_REGISTERED`.
    NotRegistered,
    /// `INVALID_BLOB`.
    InvalidBlob,
    /// `FORBIDDEN_BLOB`.
    ForbiddenBlob,
    /// `UNSUPPORTED_ENCODING_TYPE`.
    UnsupportedEncodingType,
    /// `METADATA_NOT_FOUND`.
    MetadataNotFound,
    /// `INVALID_METADATA`.
    InvalidMetadata,
    /// `INVALID_BLOB_ID`.
    InvalidBlobId,
    /// `INVALID_SLIVER_TYPE`.
    InvalidSliverType,
    /// `INVALID_SLIVER_PAIR`.
    InvalidSliverPair,
    /// `SHARD_NOT_ASSIGNED`.
    ShardNotAssigned,
    /// `INVALID_SLIVER`.
    InvalidSliver,
    /// `SLIVER_INDEX_MISMATCH`.
    SliverIndexMismatch,
    /// `SLIVER_NOT_FOUND`.
    SliverNotFound,
    /// `CACHE_SATURATED`.
    CacheSaturated,
    /// `SLIVER_TOO_LARGE`.
    SliverTooLarge,
    /// `BODY_TOO_LARGE`.
    BodyTooLarge,
    /// `INVALID_BODY`.
    InvalidBody,
    /// `INVALID_REQUEST`.
    InvalidRequest,
    /// `METHOD_NOT_ALLOWED`.
    MethodNotAllowed,
    /// `NOT_FOUND`.
    NotFound,
    /// `COMMITTEE_NOT_CURRENT`.
    CommitteeNotCurrent,
    /// `NOT_IN_COMMITTEE`.
    NotInCommittee,
    /// `MISSING_SLIVERS`.
    MissingSlivers,
    /// `INVALID_OBJECT_ID`.
    InvalidObjectId,
    /// `INVALID_RECOVERY_TARGETS`.
    InvalidRecoveryTargets,
    /// `RESPONSE_TOO_LARGE`.
    ResponseTooLarge,
    /// `INVALID_PROOF`.
    InvalidProof,
    /// `INVALID_BATCH`.
    InvalidBatch,
    /// `BATCH_TOO_LARGE`.
    BatchTooLarge,
    /// `TOO_MANY_UPLOADS`.
    TooManyUploads,
    /// `TOO_MANY_READS`.
    TooManyReads,
    /// `REQUEST_UNAUTHORIZED` (a shard sync from a node that does not hold the shard).
    RequestUnauthorized,
    /// `INVALID_EPOCH` (a shard sync for another epoch than the node's).
    InvalidEpoch,
    /// `CHALLENGE_IN_PROGRESS` (ours): the node pauses serving slivers and symbols while a
    /// storage challenge's blobs are drawn, and those of the drawn blobs until its deadline.
    ChallengeInProgress,
    /// `INTERNAL`.
    Internal,
    /// A code this build does not know, as the node sent it.
    Unknown(String),
}

impl Reason {
    /// The code as it goes on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::NotRegistered => "NOT_REGISTERED",
            Reason::InvalidBlob => "INVALID_BLOB",
            Reason::ForbiddenBlob => "FORBIDDEN_BLOB",
            Reason::UnsupportedEncodingType => "UNSUPPORTED_ENCODING_TYPE",
            Reason::MetadataNotFound => "METADATA_NOT_FOUND",
            Reason::InvalidMetadata => "INVALID_METADATA",
            Reason::InvalidBlobId => "INVALID_BLOB_ID",
            Reason::InvalidSliverType => "INVALID_SLIVER_TYPE",
            Reason::InvalidSliverPair => "INVALID_SLIVER_PAIR",
            Reason::ShardNotAssigned => "SHARD_NOT_ASSIGNED",
            Reason::InvalidSliver => "INVALID_SLIVER",
            Reason::SliverIndexMismatch => "SLIVER_INDEX_MISMATCH",
            Reason::SliverNotFound => "SLIVER_NOT_FOUND",
            Reason::CacheSaturated => "CACHE_SATURATED",
            Reason::SliverTooLarge => "SLIVER_TOO_LARGE",
            Reason::BodyTooLarge => "BODY_TOO_LARGE",
            Reason::InvalidBody => "INVALID_BODY",
            Reason::InvalidRequest => "INVALID_REQUEST",
            Reason::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Reason::NotFound => "NOT_FOUND",
            Reason::CommitteeNotCurrent => "COMMITTEE_NOT_CURRENT",
            Reason::NotInCommittee => "NOT_IN_COMMITTEE",
            Reason::MissingSlivers => "MISSING_SLIVERS",
            Reason::InvalidObjectId => "INVALID_OBJECT_ID",
            Reason::InvalidRecoveryTargets => "INVALID_RECOVERY_TARGETS",
            Reason::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            Reason::InvalidProof => "INVALID_PROOF",
            Reason::InvalidBatch => "INVALID_BATCH",
            Reason::BatchTooLarge => "BATCH_TOO_LARGE",
            Reason::TooManyUploads => "TOO_MANY_UPLOADS",
            Reason::TooManyReads => "TOO_MANY_READS",
            Reason::RequestUnauthorized => "REQUEST_UNAUTHORIZED",
            Reason::InvalidEpoch => "INVALID_EPOCH",
            Reason::ChallengeInProgress => "CHALLENGE_IN_PROGRESS",
            Reason::Internal => "INTERNAL",
            Reason::Unknown(code) => code,
        }
    }

    /// The code read from the wire.
    pub fn parse(code: &str) -> Reason {
        match code {
            "NOT_REGISTERED" => Reason::NotRegistered,
            "INVALID_BLOB" => Reason::InvalidBlob,
            "FORBIDDEN_BLOB" => Reason::ForbiddenBlob,
            "UNSUPPORTED_ENCODING_TYPE" => Reason::UnsupportedEncodingType,
            "METADATA_NOT_FOUND" => Reason::MetadataNotFound,
            "INVALID_METADATA" => Reason::InvalidMetadata,
            "INVALID_BLOB_ID" => Reason::InvalidBlobId,
            "INVALID_SLIVER_TYPE" => Reason::InvalidSliverType,
            "INVALID_SLIVER_PAIR" => Reason::InvalidSliverPair,
            "SHARD_NOT_ASSIGNED" => Reason::ShardNotAssigned,
            "INVALID_SLIVER" => Reason::InvalidSliver,
            "SLIVER_INDEX_MISMATCH" => Reason::SliverIndexMismatch,
            "SLIVER_NOT_FOUND" => Reason::SliverNotFound,
            "CACHE_SATURATED" => Reason::CacheSaturated,
            "SLIVER_TOO_LARGE" => Reason::SliverTooLarge,
            "BODY_TOO_LARGE" => Reason::BodyTooLarge,
            "INVALID_BODY" => Reason::InvalidBody,
            "INVALID_REQUEST" => Reason::InvalidRequest,
            "METHOD_NOT_ALLOWED" => Reason::MethodNotAllowed,
            "NOT_FOUND" => Reason::NotFound,
            "COMMITTEE_NOT_CURRENT" => Reason::CommitteeNotCurrent,
            "NOT_IN_COMMITTEE" => Reason::NotInCommittee,
            "MISSING_SLIVERS" => Reason::MissingSlivers,
            "INVALID_OBJECT_ID" => Reason::InvalidObjectId,
            "INVALID_RECOVERY_TARGETS" => Reason::InvalidRecoveryTargets,
            "RESPONSE_TOO_LARGE" => Reason::ResponseTooLarge,
            "INVALID_PROOF" => Reason::InvalidProof,
            "INVALID_BATCH" => Reason::InvalidBatch,
            "BATCH_TOO_LARGE" => Reason::BatchTooLarge,
            "TOO_MANY_UPLOADS" => Reason::TooManyUploads,
            "TOO_MANY_READS" => Reason::TooManyReads,
            "REQUEST_UNAUTHORIZED" => Reason::RequestUnauthorized,
            "INVALID_EPOCH" => Reason::InvalidEpoch,
            "CHALLENGE_IN_PROGRESS" => Reason::ChallengeInProgress,
            "INTERNAL" => Reason::Internal,
            other => Reason::Unknown(other.to_string()),
        }
    }

    /// Whether a client should try again later: the node has not yet seen the registration or
    /// the slivers, its committee view is behind, or it is busy.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Reason::NotRegistered
                | Reason::MissingSlivers
                | Reason::CommitteeNotCurrent
                | Reason::TooManyUploads
                | Reason::TooManyReads
                | Reason::ChallengeInProgress
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in [
            "NOT_REGISTERED",
            "INVALID_BLOB",
            "FORBIDDEN_BLOB",
            "UNSUPPORTED_ENCODING_TYPE",
            "METADATA_NOT_FOUND",
            "INVALID_METADATA",
            "INVALID_BLOB_ID",
            "INVALID_SLIVER_TYPE",
            "INVALID_SLIVER_PAIR",
            "SHARD_NOT_ASSIGNED",
            "INVALID_SLIVER",
            "SLIVER_INDEX_MISMATCH",
            "SLIVER_NOT_FOUND",
            "CACHE_SATURATED",
            "SLIVER_TOO_LARGE",
            "BODY_TOO_LARGE",
            "INVALID_BODY",
            "INVALID_REQUEST",
            "METHOD_NOT_ALLOWED",
            "NOT_FOUND",
            "COMMITTEE_NOT_CURRENT",
            "NOT_IN_COMMITTEE",
            "MISSING_SLIVERS",
            "INVALID_OBJECT_ID",
            "INVALID_RECOVERY_TARGETS",
            "RESPONSE_TOO_LARGE",
            "INVALID_PROOF",
            "INVALID_BATCH",
            "BATCH_TOO_LARGE",
            "TOO_MANY_UPLOADS",
            "TOO_MANY_READS",
            "INTERNAL",
        ] {
            let reason = Reason::parse(code);
            assert!(!matches!(reason, Reason::Unknown(_)), "{code}");
            assert_eq!(reason.as_str(), code);
        }
        assert_eq!(Reason::parse("NEWER_CODE"), Reason::Unknown("NEWER_CODE".into()));
    }
}
