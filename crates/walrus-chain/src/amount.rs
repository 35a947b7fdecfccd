//! WAL amounts in FROST (1 WAL = 10^9 FROST) with checked arithmetic, and storage units.

use serde::{Deserialize, Serialize};

use crate::error::ExecError;

/// FROST in one WAL.
pub const FROST_PER_WAL: u64 = 1_000_000_000;

/// Bytes in one storage unit (1 MiB of encoded size), as the reference prices storage.
pub const BYTES_PER_UNIT: u64 = 1 << 20;

/// An amount of WAL in FROST. Every operation is checked: overflow is an error, never a wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Frost(pub u64);

impl Frost {
    /// Nothing.
    pub const ZERO: Frost = Frost(0);

    /// `amount` whole WAL.
    pub fn from_wal(amount: u64) -> Result<Frost, ExecError> {
        amount.checked_mul(FROST_PER_WAL).map(Frost).ok_or(ExecError::ArithmeticOverflow)
    }

    /// `self + other`.
    pub fn checked_add(self, other: Frost) -> Result<Frost, ExecError> {
        self.0.checked_add(other.0).map(Frost).ok_or(ExecError::ArithmeticOverflow)
    }

    /// `self - other`, or [`ExecError::InsufficientFunds`].
    pub fn checked_sub(self, other: Frost) -> Result<Frost, ExecError> {
        self.0
            .checked_sub(other.0)
            .map(Frost)
            .ok_or(ExecError::InsufficientFunds { needed: other, available: self })
    }

    /// `self * factor`.
    pub fn checked_mul(self, factor: u64) -> Result<Frost, ExecError> {
        self.0.checked_mul(factor).map(Frost).ok_or(ExecError::ArithmeticOverflow)
    }
}

impl std::fmt::Display for Frost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} FROST", self.0)
    }
}

/// Storage units of `encoded_size` bytes: `ceil(encoded_size / 1 MiB)`.
pub fn storage_units(encoded_size: u64) -> u64 {
    encoded_size.div_ceil(BYTES_PER_UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Frost(u64::MAX).checked_add(Frost(1)), Err(ExecError::ArithmeticOverflow));
        assert!(matches!(Frost(1).checked_sub(Frost(2)), Err(ExecError::InsufficientFunds { .. })));
        assert_eq!(Frost::from_wal(3), Ok(Frost(3_000_000_000)));
        assert_eq!(Frost::from_wal(u64::MAX), Err(ExecError::ArithmeticOverflow));
    }

    #[test]
    fn units_round_up() {
        assert_eq!(storage_units(0), 0);
        assert_eq!(storage_units(1), 1);
        assert_eq!(storage_units(BYTES_PER_UNIT), 1);
        assert_eq!(storage_units(BYTES_PER_UNIT + 1), 2);
    }
}
