//! The batch read of `POST /v1/blobs/{blob_id}/slivers`: its request body, BCS
//! `Vec<(SliverPairIndex, SliverType)>` (`walrus_node::batch::get_slivers`), and its answer, BCS
//! `Vec<Option<UnverifiedSliver>>`, as a client decodes it from a node
//! (`walrus_sdk::node_client::NodeClient::slivers`).
//!
//! Both decode canonically. The server does not serialize the answer with BCS but frames it by
//! hand (`push_uleb128` of the count, then `0`, or `1` and the stored sliver's BCS); that framing
//! must be the BCS the client decodes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::sliver::{push_uleb128, UnverifiedSliver};
use walrus_core::{SliverPairIndex, SliverType};

fuzz_target!(|data: &[u8]| {
    if let Ok(wanted) = bcs::from_bytes::<Vec<(SliverPairIndex, SliverType)>>(data) {
        assert_eq!(bcs::to_bytes(&wanted).expect("a decoded request encodes"), data);
    }

    if let Ok(answer) = bcs::from_bytes::<Vec<Option<UnverifiedSliver>>>(data) {
        let mut framed = Vec::new();
        push_uleb128(&mut framed, answer.len());
        for sliver in &answer {
            match sliver {
                None => framed.push(0),
                Some(sliver) => {
                    framed.push(1);
                    framed.extend(bcs::to_bytes(sliver).expect("a decoded sliver encodes"));
                }
            }
        }
        assert_eq!(framed, data);
    }
});
