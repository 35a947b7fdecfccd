//! Text from URLs: the IDs in request paths and query strings of the storage node
//! (`walrus_node::api`: blob IDs, sliver types, sliver pairs, object IDs) and of the chain RPC
//! (`walrus_chain_node::rpc`: transaction digests, addresses, object IDs, blob IDs, event
//! cursors such as `?after=` of events).
//!
//! Every ID's text form round trips; 32-byte hex IDs print as `0x` and the lowercase digits they
//! were given, blob IDs as exactly the text they were parsed from (base64url without padding or
//! spare bits is canonical).
//!
//! The query structs themselves (`?pending=`, `?targetSliver=&targetType=`, `?wait_ms=`,
//! `?limit=`) are private to their handlers and decoded by serde's derive through axum's
//! `Query`; they are not fuzzed here (see README.md).

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_chain::TxDigest;
use walrus_chain_client::wire::{format_cursor, parse_cursor};
use walrus_core::ids::parse_hex32;
use walrus_core::keys::{Address, BlsPublicKey};
use walrus_core::{
    BlobId, EncodingType, Epoch, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    ids(text);
});

fn ids(text: &str) {
    if let Ok(id) = text.parse::<BlobId>() {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = BlobId::from_u256_decimal(text) {
        assert_eq!(BlobId::from_u256_decimal(&id.to_u256_decimal()), Ok(id));
    }

    let hex = parse_hex32(text);
    assert_eq!(text.parse::<ObjectId>().ok(), hex.map(ObjectId));
    assert_eq!(text.parse::<Address>().ok(), hex.map(Address));
    assert_eq!(text.parse::<TxDigest>().ok(), hex.map(TxDigest));
    if let Some(bytes) = hex {
        let shown = format!("0x{}", text.strip_prefix("0x").unwrap_or(text).to_ascii_lowercase());
        assert_eq!(ObjectId(bytes).to_string(), shown);
        assert_eq!(Address(bytes).to_string(), shown);
        assert_eq!(TxDigest(bytes).to_string(), shown);
    }

    if let Ok(axis) = text.parse::<SliverType>() {
        assert_eq!(axis.to_string(), text);
    }
    let _ = text.parse::<EncodingType>();
    if let Ok(index) = text.parse::<ShardIndex>() {
        assert_eq!(index.to_string().parse::<ShardIndex>(), Ok(index));
    }
    if let Ok(index) = text.parse::<SliverIndex>() {
        assert_eq!(index.to_string().parse::<SliverIndex>(), Ok(index));
    }
    if let Ok(index) = text.parse::<SliverPairIndex>() {
        assert_eq!(index.to_string().parse::<SliverPairIndex>(), Ok(index));
    }
    if let Ok(epoch) = text.parse::<Epoch>() {
        assert_eq!(epoch.to_string().parse::<Epoch>(), Ok(epoch));
    }
    if let Ok(key) = text.parse::<BlsPublicKey>() {
        assert_eq!(key.to_string().parse::<BlsPublicKey>(), Ok(key));
    }
    if let Some(cursor) = parse_cursor(text) {
        assert_eq!(parse_cursor(&format_cursor(cursor)), Some(cursor));
    }
}
