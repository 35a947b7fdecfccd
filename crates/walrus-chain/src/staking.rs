//! Delegated staking, as the reference's `staking_pool.move` and `staked_wal.move`: anyone
//! stakes WAL with a node's pool and gets a `StakedWal` object; stake activates at the next
//! epoch (or the one after, once the next committee is selected at mid-epoch), earns the pool's
//! rewards after the node's commission, and is withdrawn in two steps. Stake withdrawn within
//! `stake_hop_epochs` of its activation pays the stake-hop burn (a governance parameter), so
//! that chasing one epoch's rewards from pool to pool costs more than it earns; stake that no
//! committee selection counted yet leaves free.
//!
//! Share accounting, with one departure from the reference: instead of an exchange rate for
//! every epoch kept for ever, a pool keeps a bucket per activation epoch (the principal that
//! activated then and the shares it bought) and per withdrawal epoch (the shares that left then
//! and the WAL they were worth). A `StakedWal` takes its part of its buckets pro rata, and a
//! bucket goes once its last part is taken, so a pool's size follows the stake outstanding,
//! not the number of epochs. Every division rounds down in the pool's favour, and the last part
//! of a bucket takes what is left, so the pool never owes more than it holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::keys::Address;
use walrus_core::{Epoch, ObjectId};

use crate::amount::Frost;
use crate::error::ExecError;
use crate::objects::{Object, ObjectBody, Owner};
use crate::state::Overlay;

/// The smallest `StakedWal`: 1 WAL (the reference's `MIN_STAKING_THRESHOLD`).
pub const MIN_STAKE: Frost = Frost(1_000_000_000);
/// Commission rates are in basis points, at most 100%.
pub const COMMISSION_BPS_MAX: u16 = 10_000;

/// WAL and the pool shares that stand for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// WAL (principal, for an activation bucket; the value paid out, for a withdrawal bucket).
    pub wal: u64,
    /// Pool shares.
    pub shares: u64,
}

impl Bucket {
    /// Takes `wal` out; the shares that go with it (all that are left for the last part).
    fn take_wal(&mut self, wal: u64) -> u64 {
        let shares = if wal >= self.wal { self.shares } else { mul_div(wal, self.shares, self.wal) };
        self.wal = self.wal.saturating_sub(wal);
        self.shares -= shares;
        shares
    }

    /// Takes `shares` out; the WAL that goes with them (all that is left for the last part).
    fn take_shares(&mut self, shares: u64) -> u64 {
        let wal = if shares >= self.shares { self.wal } else { mul_div(shares, self.wal, self.shares) };
        self.shares = self.shares.saturating_sub(shares);
        self.wal -= wal;
        wal
    }
}

/// `a * b / c`, rounded down (0 when `c` is 0); never more than `b` when `a ≤ c`.
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    u64::try_from(u128::from(a) * u128::from(b) / u128::from(c)).unwrap_or(u64::MAX)
}

fn add_at(map: &mut BTreeMap<Epoch, u64>, epoch: Epoch, amount: u64) -> Result<(), ExecError> {
    let entry = map.entry(epoch).or_default();
    *entry = entry.checked_add(amount).ok_or(ExecError::ArithmeticOverflow)?;
    Ok(())
}

fn sub_at(map: &mut BTreeMap<Epoch, u64>, epoch: Epoch, amount: u64) {
    if let Some(entry) = map.get_mut(&epoch) {
        *entry = entry.saturating_sub(amount);
        if *entry == 0 {
            map.remove(&epoch);
        }
    }
}

/// A node's staking pool: the WAL staked with it and who owns which part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Active stake, rewards compounded.
    pub active_wal: u64,
    /// Shares of the active stake.
    pub active_shares: u64,
    /// Principal that activates at each coming epoch.
    pub pending_stake: BTreeMap<Epoch, u64>,
    /// Of that, principal withdrawn before it activated (it never does).
    pub pre_active_withdrawals: BTreeMap<Epoch, u64>,
    /// Shares that leave at each coming epoch.
    pub pending_withdrawals: BTreeMap<Epoch, u64>,
    /// Activated stake by activation epoch, until it is withdrawn.
    pub activations: BTreeMap<Epoch, Bucket>,
    /// WAL set aside at each withdrawal epoch for the shares that left then, until claimed.
    pub withdrawals: BTreeMap<Epoch, Bucket>,
    /// Principal of pre-active withdrawals, until claimed.
    pub pre_active_claimable: u64,
}

impl Pool {
    /// All WAL the pool holds.
    pub fn total(&self) -> Result<Frost, ExecError> {
        let mut parts = [self.active_wal, self.pre_active_claimable]
            .into_iter()
            .chain(self.pending_stake.values().copied())
            .chain(self.withdrawals.values().map(|b| b.wal));
        parts.try_fold(0u64, |sum, v| sum.checked_add(v)).map(Frost).ok_or(ExecError::ArithmeticOverflow)
    }

    /// The WAL `shares` of active stake are worth now.
    fn value_of(&self, shares: u64) -> u64 {
        mul_div(shares, self.active_wal, self.active_shares)
    }

    /// The stake that will be active in `epoch` as far as is known now: the active stake, plus
    /// what activates by then, less what leaves by then (valued at today's rate).
    pub fn stake_at(&self, epoch: Epoch) -> u64 {
        let upto = |map: &BTreeMap<Epoch, u64>| map.range(..=epoch).map(|(_, v)| *v).sum::<u64>();
        let joining = upto(&self.pending_stake).saturating_sub(upto(&self.pre_active_withdrawals));
        let leaving = self.value_of(upto(&self.pending_withdrawals));
        self.active_wal.saturating_add(joining).saturating_sub(leaving)
    }

    /// Moves the pool into `epoch` after `rewards` for the epoch that ended (after commission)
    /// were added: the shares leaving now are paid out at the new rate into a withdrawal
    /// bucket, then the stake activating now buys shares at that rate.
    pub fn advance(&mut self, epoch: Epoch, rewards: u64) -> Result<(), ExecError> {
        self.active_wal = self.active_wal.checked_add(rewards).ok_or(ExecError::ArithmeticOverflow)?;
        let due = |map: &mut BTreeMap<Epoch, u64>| {
            let later = map.split_off(&Epoch(epoch.0.saturating_add(1)));
            std::mem::replace(map, later).into_values().sum::<u64>()
        };
        let leaving = due(&mut self.pending_withdrawals).min(self.active_shares);
        if leaving > 0 {
            let wal = if leaving == self.active_shares { self.active_wal } else { self.value_of(leaving) };
            self.active_wal -= wal;
            self.active_shares -= leaving;
            let bucket = self.withdrawals.entry(epoch).or_default();
            bucket.wal += wal;
            bucket.shares += leaving;
        }
        let pre_active = due(&mut self.pre_active_withdrawals);
        let joining = due(&mut self.pending_stake);
        self.pre_active_claimable =
            self.pre_active_claimable.checked_add(pre_active).ok_or(ExecError::ArithmeticOverflow)?;
        let joining = joining.saturating_sub(pre_active);
        if joining > 0 {
            // A pool whose shares are all gone starts again at one share per FROST.
            let shares = if self.active_shares == 0 {
                joining
            } else {
                mul_div(joining, self.active_shares, self.active_wal)
            };
            self.active_wal = self.active_wal.checked_add(joining).ok_or(ExecError::ArithmeticOverflow)?;
            self.active_shares =
                self.active_shares.checked_add(shares).ok_or(ExecError::ArithmeticOverflow)?;
            let bucket = self.activations.entry(epoch).or_default();
            bucket.wal += joining;
            bucket.shares += shares;
        }
        Ok(())
    }
}

/// Where a `StakedWal` is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StakedState {
    /// Staked (active from its activation epoch).
    Staked,
    /// Withdrawal requested: claimable from `withdraw_epoch`, for `shares` of the withdrawal
    /// bucket, or, when `None`, for its principal (withdrawn before it activated).
    Withdrawing {
        /// From when it can be claimed.
        withdraw_epoch: Epoch,
        /// The shares it gave up.
        shares: Option<u64>,
    },
}

/// Stake with one node's pool, owned by the staker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakedWal {
    /// The node (its pool).
    pub node_id: ObjectId,
    /// WAL staked.
    pub principal: Frost,
    /// The first epoch in which it is active.
    pub activation_epoch: Epoch,
    /// Staked or withdrawing.
    pub state: StakedState,
}

/// Whether the next committee is selected (between mid-epoch and the epoch change): stake
/// staked or withdrawn now counts from the epoch after next.
fn committee_selected(o: &Overlay<'_>) -> bool {
    o.system().next_committee.is_some()
}

fn pool_mut<'o>(o: &'o mut Overlay<'_>, node_id: ObjectId) -> Result<&'o mut Pool, ExecError> {
    Ok(&mut o.system_mut().nodes.get_mut(&node_id).ok_or(ExecError::NodeNotFound(node_id))?.pool)
}

fn owned_stake(o: &Overlay<'_>, sender: Address, id: ObjectId) -> Result<StakedWal, ExecError> {
    match o.owned(id, sender)?.body {
        ObjectBody::StakedWal(staked) => Ok(staked),
        _ => Err(ExecError::WrongObjectType { object: id, expected: "staked WAL" }),
    }
}

fn put_stake(o: &mut Overlay<'_>, owner: Address, id: ObjectId, staked: StakedWal) {
    o.put_object(id, Object { owner: Owner::Address(owner), body: ObjectBody::StakedWal(staked) });
}

/// Stakes `amount` of the sender's WAL with `node_id`'s pool; returns the `StakedWal`'s ID.
pub(crate) fn stake(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    amount: Frost,
) -> Result<ObjectId, ExecError> {
    if amount < MIN_STAKE {
        return Err(ExecError::StakeTooSmall { minimum: MIN_STAKE });
    }
    let offset = if committee_selected(o) { 2 } else { 1 };
    let activation_epoch =
        Epoch(o.system().epoch().0.checked_add(offset).ok_or(ExecError::ArithmeticOverflow)?);
    o.debit(sender, amount)?;
    add_at(&mut pool_mut(o, node_id)?.pending_stake, activation_epoch, amount.0)?;
    let id = o.new_object_id();
    let staked = StakedWal { node_id, principal: amount, activation_epoch, state: StakedState::Staked };
    put_stake(o, sender, id, staked);
    Ok(id)
}

/// Whether not-yet-active stake was counted in the selection of the next committee: then it
/// can only leave at its activation epoch (it never activates).
fn locked(o: &Overlay<'_>, staked: &StakedWal) -> bool {
    committee_selected(o) && staked.activation_epoch.0 == o.system().epoch().0 + 1
}

/// Asks to withdraw a `StakedWal`. Active stake stops earning at the withdrawal epoch: the next
/// one, or the one after if the node is in the next committee already selected; for a node in
/// neither committee it is paid out at once. Stake not active yet is paid out at once, or, if the
/// next committee counted it, becomes claimable at its activation epoch.
pub(crate) fn request_withdraw(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), ExecError> {
    let mut staked = owned_stake(o, sender, id)?;
    if staked.state != StakedState::Staked {
        return Err(ExecError::WithdrawalState("a withdrawal was already requested"));
    }
    let system = o.system();
    let current = system.epoch();
    let node_id = staked.node_id;
    let in_current = system.committee.members.iter().any(|m| m.node_id == node_id);
    let in_next =
        system.next_committee.as_ref().is_some_and(|c| c.members.iter().any(|m| m.node_id == node_id));
    if staked.activation_epoch > current {
        if !locked(o, &staked) {
            return withdraw(o, sender, id);
        }
        let pool = pool_mut(o, node_id)?;
        add_at(&mut pool.pre_active_withdrawals, staked.activation_epoch, staked.principal.0)?;
        staked.state = StakedState::Withdrawing { withdraw_epoch: staked.activation_epoch, shares: None };
        put_stake(o, sender, id, staked);
        return Ok(());
    }
    let pool = pool_mut(o, node_id)?;
    let bucket = pool
        .activations
        .get_mut(&staked.activation_epoch)
        .ok_or(ExecError::WithdrawalState("stake not found in its pool"))?;
    let shares = bucket.take_wal(staked.principal.0);
    if bucket.wal == 0 {
        pool.activations.remove(&staked.activation_epoch);
    }
    let offset = if in_next {
        2
    } else if in_current {
        1
    } else {
        0
    };
    if offset == 0 {
        // Not earning anything: paid out now at today's rate, less the stake-hop burn.
        let wal = if shares == pool.active_shares { pool.active_wal } else { pool.value_of(shares) };
        pool.active_wal -= wal;
        pool.active_shares -= shares;
        o.delete_object(id);
        let burn = hop_burn(o, &staked, current, wal);
        o.burn(Frost(burn))?;
        return o.credit(sender, Frost(wal - burn));
    }
    let withdraw_epoch = Epoch(current.0.checked_add(offset).ok_or(ExecError::ArithmeticOverflow)?);
    add_at(&mut pool.pending_withdrawals, withdraw_epoch, shares)?;
    staked.state = StakedState::Withdrawing { withdraw_epoch, shares: Some(shares) };
    put_stake(o, sender, id, staked);
    Ok(())
}

/// Pays out a `StakedWal`: a withdrawal once its epoch has come, or stake that is not active
/// yet and was not counted for the next committee.
pub(crate) fn withdraw(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), ExecError> {
    let staked = owned_stake(o, sender, id)?;
    let current = o.system().epoch();
    let early =
        staked.state == StakedState::Staked && staked.activation_epoch > current && !locked(o, &staked);
    let pool = pool_mut(o, staked.node_id)?;
    let amount = match staked.state {
        StakedState::Staked if early => {
            sub_at(&mut pool.pending_stake, staked.activation_epoch, staked.principal.0);
            staked.principal.0
        }
        StakedState::Staked => return Err(ExecError::WithdrawalState("request the withdrawal first")),
        StakedState::Withdrawing { withdraw_epoch, .. } if withdraw_epoch > current => {
            return Err(ExecError::WithdrawalState("the withdrawal epoch has not come yet"))
        }
        StakedState::Withdrawing { shares: None, .. } => {
            let amount = staked.principal.0.min(pool.pre_active_claimable);
            pool.pre_active_claimable -= amount;
            amount
        }
        StakedState::Withdrawing { withdraw_epoch, shares: Some(shares) } => {
            let bucket = pool
                .withdrawals
                .get_mut(&withdraw_epoch)
                .ok_or(ExecError::WithdrawalState("withdrawal not found in its pool"))?;
            let wal = bucket.take_shares(shares);
            if bucket.shares == 0 {
                pool.withdrawals.remove(&withdraw_epoch);
            }
            wal
        }
    };
    // Stake that no committee selection ever counted leaves free.
    let burn = if early { 0 } else { hop_burn(o, &staked, current, amount) };
    o.delete_object(id);
    o.burn(Frost(burn))?;
    o.credit(sender, Frost(amount - burn))
}

/// The stake-hop burn of `amount` leaving `staked` in epoch `current`: its share
/// `stake_hop_burn_bps` if it activated fewer than `stake_hop_epochs` epochs ago.
fn hop_burn(o: &Overlay<'_>, staked: &StakedWal, current: Epoch, amount: u64) -> u64 {
    let hop = o.system().params.challenge;
    if current.0 >= staked.activation_epoch.0.saturating_add(hop.stake_hop_epochs) {
        return 0;
    }
    ((u128::from(amount) * u128::from(hop.stake_hop_burn_bps) / 10_000) as u64).min(amount)
}

/// Splits `amount` of principal off a staked `StakedWal` into a new one; both keep at least
/// [`MIN_STAKE`]. Returns the new object's ID.
pub(crate) fn split(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    amount: Frost,
) -> Result<ObjectId, ExecError> {
    let mut staked = owned_stake(o, sender, id)?;
    if staked.state != StakedState::Staked {
        return Err(ExecError::WithdrawalState("only staked WAL splits"));
    }
    let rest = staked.principal.checked_sub(amount)?;
    if amount < MIN_STAKE || rest < MIN_STAKE {
        return Err(ExecError::StakeTooSmall { minimum: MIN_STAKE });
    }
    staked.principal = rest;
    put_stake(o, sender, id, staked);
    let new = o.new_object_id();
    put_stake(o, sender, new, StakedWal { principal: amount, ..staked });
    Ok(new)
}

/// Joins `second` into `first`: both staked, with the same node and activation epoch.
pub(crate) fn join(
    o: &mut Overlay<'_>,
    sender: Address,
    first: ObjectId,
    second: ObjectId,
) -> Result<(), ExecError> {
    let mut kept = owned_stake(o, sender, first)?;
    let gone = owned_stake(o, sender, second)?;
    if first == second
        || kept.state != StakedState::Staked
        || gone.state != StakedState::Staked
        || (kept.node_id, kept.activation_epoch) != (gone.node_id, gone.activation_epoch)
    {
        return Err(ExecError::WithdrawalState("only staked WAL of one node and activation epoch joins"));
    }
    kept.principal = kept.principal.checked_add(gone.principal)?;
    o.delete_object(second);
    put_stake(o, sender, first, kept);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_never_pay_more_than_they_hold() {
        let mut bucket = Bucket { wal: 10, shares: 7 };
        let parts: Vec<u64> = [3, 3, 4].iter().map(|w| bucket.take_wal(*w)).collect();
        assert_eq!(parts.iter().sum::<u64>(), 7, "the last part takes the rest");
        assert_eq!(bucket, Bucket::default());
    }

    #[test]
    fn rewards_raise_the_value_of_shares_and_late_stake_pays_more() {
        let mut pool = Pool::default();
        add_at(&mut pool.pending_stake, Epoch(1), 1_000).expect("adds");
        pool.advance(Epoch(1), 0).expect("advances");
        assert_eq!((pool.active_wal, pool.active_shares), (1_000, 1_000));
        add_at(&mut pool.pending_stake, Epoch(2), 1_100).expect("adds");
        // 100 of rewards for epoch 1: a share is worth 1.1 from epoch 2.
        pool.advance(Epoch(2), 100).expect("advances");
        assert_eq!((pool.active_wal, pool.active_shares), (2_200, 2_000));
        assert_eq!(pool.activations[&Epoch(2)], Bucket { wal: 1_100, shares: 1_000 });
        add_at(&mut pool.pending_withdrawals, Epoch(3), 1_000).expect("adds");
        pool.advance(Epoch(3), 220).expect("advances");
        // 1 000 shares of 2 420 WAL over 2 000 shares.
        assert_eq!(pool.withdrawals[&Epoch(3)], Bucket { wal: 1_210, shares: 1_000 });
        assert_eq!((pool.active_wal, pool.active_shares), (1_210, 1_000));
        assert_eq!(pool.total(), Ok(Frost(2_420)));
    }
}
