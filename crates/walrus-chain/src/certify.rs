//! Certificates: a signer bitmap over the committee, a weight threshold in shards, an
//! aggregate BLS signature, and the signed message parsed the way the reference contract does
//! (a 7-byte intent header, then the body; trailing bytes are ignored, as in Move).

use walrus_core::keys::BlsPublicKey;
use walrus_core::messages::{bitmap_to_signers, intent_type, INTENT_APP_ID, INTENT_VERSION};
use walrus_core::params::Quorum;
use walrus_core::{BlobId, Epoch, ObjectId};

use crate::error::ExecError;
use crate::system::System;
use crate::tx::CertificateArgs;

/// How much of the committee must have signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threshold {
    /// `3w >= 2n + 1`: enough that a correct majority stores the blob.
    Quorum,
    /// `3w >= n + 1`: at least one correct node attests.
    Validity,
}

/// Whether a certificate's aggregate signature verifies for the keys its bitmap names, computed
/// ahead of execution (see [`crate::block::verify_block`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    keys: Vec<BlsPublicKey>,
    valid: bool,
}

impl Verdict {
    /// The verdict for `certificate` under `system`'s committee.
    pub(crate) fn compute(system: &System, certificate: &CertificateArgs) -> Verdict {
        let keys = signed_by(system, certificate).map(|(keys, _)| keys).unwrap_or_default();
        let valid = !keys.is_empty()
            && BlsPublicKey::verify_aggregate(&keys, &certificate.message, &certificate.signature).is_ok();
        Verdict { keys, valid }
    }
}

/// The keys the certificate's bitmap names and their weight in shards; `None` if the bitmap does
/// not fit the committee.
pub(crate) fn signed_by(system: &System, certificate: &CertificateArgs) -> Option<(Vec<BlsPublicKey>, u64)> {
    let members = &system.committee.members;
    let signers = bitmap_to_signers(&certificate.signers_bitmap, members.len())?;
    let signers = signers.iter().map(|&i| &members[usize::from(i)]);
    Some((signers.clone().map(|m| m.public_key).collect(), signers.map(|m| m.weight()).sum()))
}

/// Checks the bitmap, the signers' weight and the aggregate signature against the current
/// committee, and returns the message's body after checking its intent and epoch. `verdict`,
/// computed ahead, stands for the signature check when it was made for the same keys.
pub(crate) fn verify<'a>(
    system: &System,
    certificate: &'a CertificateArgs,
    threshold: Threshold,
    expected_type: u8,
    verdict: Option<&Verdict>,
) -> Result<&'a [u8], ExecError> {
    let (keys, weight) = signed_by(system, certificate).ok_or(ExecError::InvalidBitmap)?;
    let quorum = Quorum::new(usize::from(system.params.n_shards));
    let weight_usize = usize::try_from(weight).map_err(|_| ExecError::ArithmeticOverflow)?;
    let enough = match threshold {
        Threshold::Quorum => quorum.is_certificate_quorum(weight_usize),
        Threshold::Validity => quorum.includes_one_correct_node(weight_usize),
    };
    if !enough {
        return Err(ExecError::NotEnoughStake { weight, n_shards: system.params.n_shards });
    }
    let valid = match verdict {
        Some(verdict) if verdict.keys == keys => verdict.valid,
        _ => BlsPublicKey::verify_aggregate(&keys, &certificate.message, &certificate.signature).is_ok(),
    };
    if !valid {
        return Err(ExecError::SignatureVerification);
    }
    let (epoch, body) = parse_header(&certificate.message, expected_type)?;
    if epoch != system.epoch() {
        return Err(ExecError::IncorrectEpoch { message: epoch, current: system.epoch() });
    }
    Ok(body)
}

/// The intent header `type, version 0, app 3, epoch (u32 LE)` and the rest.
fn parse_header(message: &[u8], expected_type: u8) -> Result<(Epoch, &[u8]), ExecError> {
    let (header, body) =
        message.split_at_checked(7).ok_or(ExecError::InvalidMessage("shorter than its header"))?;
    if header[0] != expected_type || header[1] != INTENT_VERSION || header[2] != INTENT_APP_ID {
        return Err(ExecError::InvalidMessage("wrong intent"));
    }
    let epoch = u32::from_le_bytes([header[3], header[4], header[5], header[6]]);
    Ok((Epoch(epoch), body))
}

/// A certified `StorageConfirmation`: the blob ID and, if deletable, the blob object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Confirmed {
    pub(crate) blob_id: BlobId,
    pub(crate) deletable_object: Option<ObjectId>,
}

/// Parses a `StorageConfirmation` body: the blob ID, then `0` (permanent) or `1` and the
/// blob object's ID (deletable).
pub(crate) fn parse_confirmation(body: &[u8]) -> Result<Confirmed, ExecError> {
    let too_short = ExecError::InvalidMessage("confirmation body too short");
    let blob_id = BlobId(body.get(..32).ok_or(too_short.clone())?.try_into().map_err(|_| too_short.clone())?);
    let deletable_object = match body.get(32) {
        Some(0) => None,
        Some(1) => {
            let id = body.get(33..65).ok_or(too_short.clone())?;
            Some(ObjectId(id.try_into().map_err(|_| too_short)?))
        }
        _ => return Err(ExecError::InvalidMessage("unknown blob persistence type")),
    };
    Ok(Confirmed { blob_id, deletable_object })
}

/// Parses an invalid-blob body: the blob ID.
pub(crate) fn parse_invalid_blob(body: &[u8]) -> Result<BlobId, ExecError> {
    let id = body.get(..32).ok_or(ExecError::InvalidMessage("invalid-blob body too short"))?;
    Ok(BlobId(id.try_into().map_err(|_| ExecError::InvalidMessage("invalid-blob body too short"))?))
}

/// The intent type of storage confirmations.
pub(crate) const BLOB_CERT: u8 = intent_type::BLOB_CERT;
/// The intent type of invalid-blob attestations.
pub(crate) const INVALID_BLOB_ID: u8 = intent_type::INVALID_BLOB_ID;
