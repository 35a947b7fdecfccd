//! The consensus block: a thin adapter that lets commonware order our chain's blocks.
//!
//! A [`ChainBlock`] wraps a [`walrus_chain::Block`] and carries what consensus asks of a block:
//! its height, its digest (our own Blake2b block digest, [`walrus_chain::Block::digest`], held in
//! a 32-byte commonware digest) and its parent's digest. On the wire and in marshal's archives it
//! is the block's canonical BCS bytes behind a varint length. Decoding refuses more than the
//! configured byte bound, more than [`BLOCK_TRANSACTIONS_MAX`] transactions, trailing or
//! non-canonical bytes (the decoded block must encode back to the same bytes), and any height-0
//! block other than this chain's genesis block.
//!
//! The genesis block sits at height 0 and its digest is the chain ID ([`Genesis::digest`]), so
//! that block 1 names the chain ID as its parent, as [`walrus_chain::check_block`] expects. It
//! is never proposed or sent: marshal starts from it locally.

use std::sync::Arc;

use bytes::BufMut;
use commonware_codec::{varint::UInt, Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};
use commonware_consensus::types::Height;
use commonware_consensus::{BoundedBlock, Heightable};
use commonware_cryptography::Digestible;
use walrus_chain::block::{BLOCK_TRANSACTIONS_MAX, BLOCK_VERSION};
use walrus_chain::{Block, ExecCommitment, Genesis, State, TxDigest};

/// The 32-byte digest type consensus orders: it carries our Blake2b-256 block digests.
pub use commonware_cryptography::sha256::Digest as ConsensusDigest;

/// The default bound on a block's encoded size (its BCS bytes).
pub const BLOCK_BYTES_MAX: usize = 4 << 20;

/// A block as consensus sees it: our block, its canonical bytes and its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    block: Arc<Block>,
    bytes: bytes::Bytes,
    digest: ConsensusDigest,
    transactions: Arc<[TxDigest]>,
}

/// What decoding a [`ChainBlock`] needs: the byte bound and the genesis block, the only block
/// of height 0 that decodes.
#[derive(Clone, Debug)]
pub struct BlockConfig {
    /// Most bytes of a block's BCS encoding.
    pub max_bytes: usize,
    /// This chain's genesis block.
    pub genesis: ChainBlock,
}

impl BlockConfig {
    /// The configuration for `genesis` with the default byte bound.
    pub fn new(genesis: ChainBlock) -> BlockConfig {
        BlockConfig { max_bytes: BLOCK_BYTES_MAX, genesis }
    }
}

impl ChainBlock {
    /// Wraps `block`, encoding it and computing its digest once.
    pub fn new(block: Block) -> ChainBlock {
        let bytes = bcs::to_bytes(&block).expect("blocks are plain BCS");
        let digest = ConsensusDigest(block.digest());
        ChainBlock::from_parts(block, bytes.into(), digest)
    }

    fn from_parts(block: Block, bytes: bytes::Bytes, digest: ConsensusDigest) -> ChainBlock {
        let transactions = block.transactions.iter().map(|tx| tx.data.digest()).collect();
        ChainBlock { block: Arc::new(block), bytes, digest, transactions }
    }

    /// The genesis block of the chain that `genesis` starts, whose state at height 0 is `state`
    /// (`genesis.build()`): height 0, the genesis time, a commitment to the genesis state, no
    /// transactions, and the chain ID as its digest (and, for want of one, as its parent).
    pub fn genesis(genesis: &Genesis, state: &State) -> ChainBlock {
        let chain_id = genesis.digest();
        let block = Block {
            version: BLOCK_VERSION,
            height: 0,
            parent: chain_id,
            timestamp_ms: genesis.timestamp_ms,
            exec: ExecCommitment { height: 0, state_digest: state.digest() },
            transactions: Vec::new(),
            evidence: Vec::new(),
        };
        let bytes = bcs::to_bytes(&block).expect("blocks are plain BCS");
        ChainBlock::from_parts(block, bytes.into(), ConsensusDigest(chain_id))
    }

    /// Our block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// Our block's digest (the chain ID for the genesis block).
    pub fn chain_digest(&self) -> walrus_core::hash::Digest {
        self.digest.0
    }

    /// The digests of the block's transactions, in order.
    pub fn transaction_digests(&self) -> &[TxDigest] {
        &self.transactions
    }

    /// The canonical BCS bytes of our block.
    pub fn bcs_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decodes a block from its BCS bytes, with the checks of the module docs.
    pub fn from_bcs(bytes: bytes::Bytes, cfg: &BlockConfig) -> Result<ChainBlock, CodecError> {
        if bytes.len() > cfg.max_bytes {
            return Err(CodecError::InvalidLength(bytes.len()));
        }
        let block: Block =
            bcs::from_bytes(&bytes).map_err(|_| CodecError::Invalid("ChainBlock", "malformed BCS"))?;
        if block.transactions.len() > BLOCK_TRANSACTIONS_MAX {
            return Err(CodecError::Invalid("ChainBlock", "too many transactions"));
        }
        let canonical =
            bcs::to_bytes(&block).map_err(|_| CodecError::Invalid("ChainBlock", "unencodable"))?;
        if canonical != bytes {
            return Err(CodecError::Invalid("ChainBlock", "non-canonical encoding"));
        }
        if block.height == 0 {
            // Only the genesis block has height 0, and its digest is the chain ID.
            return if bytes == cfg.genesis.bytes {
                Ok(cfg.genesis.clone())
            } else {
                Err(CodecError::Invalid("ChainBlock", "height 0 is the genesis block only"))
            };
        }
        let digest = ConsensusDigest(block.digest());
        Ok(ChainBlock::from_parts(block, bytes, digest))
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let len = u32::try_from(self.bytes.len()).expect("blocks are far below 4 GiB");
        UInt(len).write(buf);
        buf.put_slice(&self.bytes);
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        let len = u32::try_from(self.bytes.len()).expect("blocks are far below 4 GiB");
        UInt(len).encode_size() + self.bytes.len()
    }
}

impl Read for ChainBlock {
    type Cfg = BlockConfig;

    fn read_cfg(buf: &mut impl Buf, cfg: &BlockConfig) -> Result<Self, CodecError> {
        let len = usize::try_from(UInt::<u32>::read(buf)?.0).map_err(|_| CodecError::InvalidUsize)?;
        if len > cfg.max_bytes {
            return Err(CodecError::InvalidLength(len));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        ChainBlock::from_bcs(buf.take_owned(len), cfg)
    }
}

impl Digestible for ChainBlock {
    type Digest = ConsensusDigest;

    fn digest(&self) -> ConsensusDigest {
        self.digest
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> ConsensusDigest {
        ConsensusDigest(self.block.parent)
    }
}

impl BoundedBlock for ChainBlock {
    fn max_encode_size(cfg: &BlockConfig) -> usize {
        let len = u32::try_from(cfg.max_bytes).unwrap_or(u32::MAX);
        UInt(len).encode_size() + cfg.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use commonware_codec::{Decode as _, Encode as _};

    use super::*;

    fn genesis() -> (Genesis, State) {
        let genesis = crate::testing::genesis(&[], 1_000);
        let state = genesis.build().expect("valid genesis");
        (genesis, state)
    }

    #[test]
    fn blocks_round_trip_and_keep_their_digest() {
        let (genesis, state) = genesis();
        let cfg = BlockConfig::new(ChainBlock::genesis(&genesis, &state));
        let block = ChainBlock::new(Block::next(&state, 5, Vec::new()));
        let bytes = block.encode();
        let decoded = ChainBlock::decode_cfg(bytes, &cfg).expect("decodes");
        assert_eq!(decoded, block);
        assert_eq!(decoded.digest().0, block.block().digest());
        assert_eq!(commonware_consensus::Block::parent(&decoded).0, genesis.digest());
    }

    #[test]
    fn the_genesis_block_decodes_to_the_chain_id() {
        let (genesis, state) = genesis();
        let first = ChainBlock::genesis(&genesis, &state);
        let cfg = BlockConfig::new(first.clone());
        let decoded = ChainBlock::decode_cfg(first.encode(), &cfg).expect("decodes");
        assert_eq!(decoded.digest().0, genesis.digest());
        let mut forged = first.block().clone();
        forged.timestamp_ms += 1;
        let forged = ChainBlock::new(forged);
        assert!(ChainBlock::decode_cfg(forged.encode(), &cfg).is_err());
    }

    #[test]
    fn decoding_refuses_oversized_trailing_and_truncated_input() {
        let (genesis, state) = genesis();
        let mut cfg = BlockConfig::new(ChainBlock::genesis(&genesis, &state));
        let block = ChainBlock::new(Block::next(&state, 5, Vec::new()));
        let mut bytes = block.encode().to_vec();
        assert!(ChainBlock::decode_cfg(bytes[..bytes.len() - 1].to_vec(), &cfg).is_err());
        bytes.push(0);
        assert!(ChainBlock::decode_cfg(bytes, &cfg).is_err());
        cfg.max_bytes = block.bcs_bytes().len() - 1;
        assert!(ChainBlock::decode_cfg(block.encode(), &cfg).is_err());
    }

    #[test]
    fn decoding_refuses_non_canonical_bcs() {
        let (genesis, state) = genesis();
        let cfg = BlockConfig::new(ChainBlock::genesis(&genesis, &state));
        let block = ChainBlock::new(Block::next(&state, 5, Vec::new()));
        // A non-canonical ULEB128 for the (empty) transaction count: 0x80 0x00 instead of 0x00.
        let mut bcs = block.bcs_bytes().to_vec();
        assert_eq!(bcs.pop(), Some(0));
        bcs.extend_from_slice(&[0x80, 0x00]);
        assert!(ChainBlock::from_bcs(bcs.into(), &cfg).is_err());
    }
}
