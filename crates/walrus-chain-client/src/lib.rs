//! The coordination chain's RPC as a client sees it: [`ChainClient`] (reqwest) and the wire types
//! of [`wire`], shared with the server (`walrus-chain-node`), which depends on this crate and not
//! the other way round. Storage nodes, the SDK, the gateway and the CLI talk to the chain through
//! it without linking the server, its store or its consensus. The committee, the system object
//! and the events are believed only with a proof from the genesis validators ([`proven`]), and
//! so are accounts, objects and blob statuses ([`records`]).

pub mod client;
pub mod proven;
pub mod records;
pub mod sites;
pub mod wire;

pub use client::{check_success, ChainClient, ClientError};
pub use proven::{EventsPosition, ProvenEvents, ProvenState, Trust};
pub use records::ProvenRecords;
pub use sites::ProvenSite;
