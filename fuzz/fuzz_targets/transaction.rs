//! Transactions from clients: the BCS `SignedTransaction` body of `POST /v1/transactions`
//! (`walrus_chain_node::rpc::submit`; axum refuses bodies over `TX_BYTES_MAX` first), and what
//! the host computes from a decoded one before ordering it: its digest (looked up, then waited
//! on) and, at admission, whether it is authentic. Also the signer bitmap of the certificates
//! that transactions carry, as the chain reads it for every certificate
//! (`walrus_core::messages::bitmap_to_signers`, from `walrus_chain::certify`).
//!
//! Decoding is canonical: a decoded transaction re-encodes to the input and decodes again to
//! itself, with the same digest.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_chain::{SignedTransaction, TxDigest};
use walrus_chain_client::wire::TX_BYTES_MAX;
use walrus_core::messages::{bitmap_to_signers, signers_to_bitmap};

fuzz_target!(|data: &[u8]| {
    transaction(data);
    signer_bitmap(data);
});

fn transaction(body: &[u8]) {
    if body.len() > TX_BYTES_MAX {
        return;
    }
    let Ok(tx) = bcs::from_bytes::<SignedTransaction>(body) else { return };
    let bytes = tx.to_bcs();
    assert_eq!(bytes, body);
    let again: SignedTransaction = bcs::from_bytes(&bytes).expect("a re-encoded transaction decodes");
    assert_eq!(again, tx);
    let digest = tx.data.digest();
    assert_eq!(again.data.digest(), digest);
    assert_eq!(digest.to_string().parse::<TxDigest>(), Ok(digest));
    let _ = tx.is_authentic();
}

/// The first two bytes are the committee's size (little-endian), the rest the bitmap.
fn signer_bitmap(data: &[u8]) {
    let Some((members, bitmap)) = data.split_first_chunk::<2>() else { return };
    let members = usize::from(u16::from_le_bytes(*members));
    let Some(signers) = bitmap_to_signers(bitmap, members) else { return };
    assert!(signers.windows(2).all(|pair| pair[0] < pair[1]), "signers are listed once, ascending");
    assert!(signers.iter().all(|&signer| usize::from(signer) < members));
    // The bitmap again, without trailing zero bytes (which the chain accepts).
    let used = bitmap.iter().rposition(|&byte| byte != 0).map_or(0, |last| last + 1);
    assert_eq!(signers_to_bitmap(&signers), &bitmap[..used]);
}
