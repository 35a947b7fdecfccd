//! Staking from the wallet: stake WAL with a storage node's pool, ask for a withdrawal, withdraw,
//! and list the wallet's `StakedWal` objects (rules in docs/chain.md, Epochs).

use walrus_chain::staking::StakedWal;
use walrus_chain::{Call, Frost};
use walrus_chain_client::ClientError;
use walrus_core::ObjectId;

use crate::Client;

impl Client {
    /// Stakes `amount` (at least 1 WAL) with `node_id`'s pool; returns the new `StakedWal`.
    pub async fn stake(&self, node_id: ObjectId, amount: Frost) -> Result<ObjectId, ClientError> {
        let executed = self.execute(Call::StakeWithPool { node_id, amount }).await?;
        executed.effects.created.first().copied().ok_or_else(|| ClientError::Decode {
            url: self.chain.base().into(),
            reason: "the stake created no object".into(),
        })
    }

    /// Asks to withdraw a `StakedWal` (paid at once when it is not earning).
    pub async fn request_withdraw_stake(&self, staked_wal: ObjectId) -> Result<(), ClientError> {
        self.execute(Call::RequestWithdrawStake { staked_wal }).await.map(drop)
    }

    /// Claims a `StakedWal` whose withdrawal epoch has come (or stake not active yet).
    pub async fn withdraw_stake(&self, staked_wal: ObjectId) -> Result<(), ClientError> {
        self.execute(Call::WithdrawStake { staked_wal }).await.map(drop)
    }

    /// The wallet's `StakedWal` objects.
    pub async fn staked_wal(&self) -> Result<Vec<(ObjectId, StakedWal)>, ClientError> {
        let owned = self.chain.owned_objects(&self.wallet.address()).await?;
        Ok(owned
            .into_iter()
            .filter_map(|o| match o.object.body {
                walrus_chain::objects::ObjectBody::StakedWal(staked) => Some((o.id, staked)),
                _ => None,
            })
            .collect())
    }
}
