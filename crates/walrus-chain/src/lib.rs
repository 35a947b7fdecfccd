//! The coordination chain's state machine.
//!
//! Walrus coordinates through Sui; this crate is our own chain's rules, following the Walrus
//! system contracts: WAL accounts and transfers, storage resources bought per epoch, blob
//! registration and certification by a quorum of storage nodes, deletion and extension,
//! invalid-blob certificates, the committee and epochs, storage challenges and the rewards and
//! penalties they settle, governance votes, and the events storage nodes follow.
//!
//! It is pure: [`block::execute_block`] is a function of the state and the block (time comes
//! with the block), maps are ordered, arithmetic is checked, and no I/O happens here. The host
//! (`walrus-chain-node`) orders, persists and serves blocks.

pub mod access;
pub mod admission;
pub mod amount;
pub mod block;
mod calls;
pub mod certify;
pub mod challenge;
pub mod committee;
pub mod epoch;
pub mod error;
pub mod events;
pub mod evidence;
pub mod finality;
pub mod genesis;
pub mod governance;
pub mod light;
pub mod objects;
pub mod records;
pub mod site;
pub mod staking;
pub mod state;
pub mod system;
pub mod tables;
pub mod tx;

pub use amount::Frost;
pub use block::{
    check_block, execute_block, execute_verified, precheck, verify_block, verify_block_with, Block,
    BlockEffects, BlockError, ExecCommitment, PrecheckError, TxEffects, TxStatus, Verified,
};
pub use error::ExecError;
pub use events::{Event, EventCursor, EventEnvelope, EventId};
pub use genesis::{Genesis, GenesisNode, GenesisValidator};
pub use state::State;
pub use tx::{Call, CertificateArgs, SignedTransaction, TransactionData, TxDigest};
