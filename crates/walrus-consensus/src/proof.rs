//! Finality proofs for clients: a finalized block's certificate in the chain's own form
//! ([`walrus_chain::finality::FinalityProof`]), which a client checks against the genesis
//! validators without linking commonware.

use commonware_consensus::types::Height;
use commonware_cryptography::ed25519::PublicKey;
use walrus_chain::finality::FinalityProof;
use walrus_core::keys::Ed25519Signature;

use crate::validator::MarshalMailbox;

/// Reads finalization certificates from marshal and converts them (cheap to clone).
#[derive(Clone)]
pub struct Proofs {
    marshal: MarshalMailbox,
    /// Per participant index (commonware orders participants by key), its genesis index.
    genesis_index: Vec<u32>,
}

impl Proofs {
    /// Proofs from `marshal`, for the validators `genesis_order` (as the genesis lists them).
    pub fn new(marshal: MarshalMailbox, genesis_order: &[PublicKey]) -> Proofs {
        let mut sorted: Vec<(&PublicKey, u32)> = genesis_order.iter().zip(0u32..).collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        Proofs { marshal, genesis_index: sorted.into_iter().map(|(_, index)| index).collect() }
    }

    /// The proof that the block at `height` is final, with the block digest it finalizes;
    /// `None` if this validator holds no finalization for that height (not final yet, or
    /// older than what it keeps).
    pub async fn finality_proof(&self, height: u64) -> Option<([u8; 32], FinalityProof)> {
        let finalization = self.marshal.get_finalization(Height::new(height)).await?;
        let proposal = &finalization.proposal;
        let certificate = &finalization.certificate;
        let mut signatures: Vec<(u32, Ed25519Signature)> = certificate
            .signers
            .iter()
            .zip(&certificate.signatures)
            .filter_map(|(signer, signature)| {
                let index = *self.genesis_index.get(usize::from(signer))?;
                let bytes: [u8; 64] = signature.get()?.as_ref().try_into().ok()?;
                Some((index, Ed25519Signature(bytes)))
            })
            .collect();
        signatures.sort_by_key(|(index, _)| *index);
        let proof = FinalityProof {
            epoch: proposal.round.epoch().get(),
            view: proposal.round.view().get(),
            parent_view: proposal.parent.get(),
            signatures,
        };
        Some((proposal.payload.0, proof))
    }
}
