//! Typed indices and identifiers: shards, slivers, sliver pairs, epochs and object IDs.
//!
//! Each index is a newtype over the reference's integer width (`u16` for shard-like indices,
//! `u32` for epochs) so that a shard index can never be passed where a sliver index is meant.
//! Conversions between pair and sliver indices follow the reference: pair `p` holds primary
//! sliver `p` and secondary sliver `n - 1 - p`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Error for a text form that does not parse into an index or ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {input:?}")]
pub struct ParseIdError {
    /// The kind of value that was expected.
    pub what: &'static str,
    /// The offending input (truncated to 100 characters).
    pub input: String,
}

impl ParseIdError {
    /// An error for `input` (kept to 100 characters), which should have been a `what`.
    pub fn new(what: &'static str, input: &str) -> Self {
        Self { what, input: input.chars().take(100).collect() }
    }
}

macro_rules! index_newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty), $what:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The index as a `usize`, for indexing into vectors.
            pub fn as_usize(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<$inner>().map($name).map_err(|_| ParseIdError::new($what, s))
            }
        }

        impl From<$inner> for $name {
            fn from(value: $inner) -> Self {
                $name(value)
            }
        }
    };
}

index_newtype!(
    /// A shard, `0..n`. Storage nodes hold shards; a shard holds one sliver pair of every blob.
    ShardIndex(u16),
    "shard index"
);
index_newtype!(
    /// A sliver's index on its own axis, `0..n` (primary sliver `i` is row `i` of the matrix).
    SliverIndex(u16),
    "sliver index"
);
index_newtype!(
    /// A sliver pair, `0..n`: primary sliver `p` and secondary sliver `n - 1 - p`.
    SliverPairIndex(u16),
    "sliver pair index"
);
index_newtype!(
    /// A storage epoch (`u32` in the reference's signed messages and contracts).
    Epoch(u32),
    "epoch"
);

impl Epoch {
    /// The following epoch, or `None` on overflow.
    pub fn next(self) -> Option<Epoch> {
        self.0.checked_add(1).map(Epoch)
    }
}

/// The two axes of the RS2 matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SliverType {
    /// Rows of the matrix; `n - f` symbols each.
    Primary,
    /// Columns of the matrix; `n - 2f` symbols each.
    Secondary,
}

impl SliverType {
    /// The other axis.
    pub fn orthogonal(self) -> SliverType {
        match self {
            SliverType::Primary => SliverType::Secondary,
            SliverType::Secondary => SliverType::Primary,
        }
    }

    /// The lowercase name used in URLs (`primary` / `secondary`).
    pub fn as_str(self) -> &'static str {
        match self {
            SliverType::Primary => "primary",
            SliverType::Secondary => "secondary",
        }
    }
}

impl fmt::Display for SliverType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SliverType {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "primary" => Ok(SliverType::Primary),
            "secondary" => Ok(SliverType::Secondary),
            _ => Err(ParseIdError::new("sliver type", s)),
        }
    }
}

impl SliverPairIndex {
    /// The index of this pair's sliver on `axis`, for `n_shards` shards.
    pub fn to_sliver_index(self, axis: SliverType, n_shards: u16) -> SliverIndex {
        match axis {
            SliverType::Primary => SliverIndex(self.0),
            SliverType::Secondary => SliverIndex(n_shards - 1 - self.0),
        }
    }
}

impl SliverIndex {
    /// The pair that holds the sliver with this index on `axis`, for `n_shards` shards.
    pub fn to_pair_index(self, axis: SliverType, n_shards: u16) -> SliverPairIndex {
        match axis {
            SliverType::Primary => SliverPairIndex(self.0),
            SliverType::Secondary => SliverPairIndex(n_shards - 1 - self.0),
        }
    }
}

/// `Serialize`/`Deserialize` for a newtype over `[u8; N]` with `Display` and `FromStr`: the text
/// form in human-readable formats (JSON, YAML), the plain byte tuple in binary ones (BCS), so the
/// wire bytes stay the reference's while JSON shows what people and tools expect.
#[macro_export]
macro_rules! serde_text_or_bytes {
    ($name:ident) => {
        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    $crate::__private::serde::Serialize::serialize(&self.0, s)
                }
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <String as $crate::__private::serde::Deserialize>::deserialize(d)?;
                    text.parse().map_err($crate::__private::serde::de::Error::custom)
                } else {
                    $crate::__private::serde::Deserialize::deserialize(d).map($name)
                }
            }
        }
    };
}

/// `Display` (`0x` + 64 lowercase hex digits), `Debug` and `FromStr` (with or without `0x`) for a
/// newtype over `[u8; 32]`.
#[macro_export]
macro_rules! hex32_text {
    ($name:ident, $what:literal) => {
        $crate::serde_text_or_bytes!($name);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "0x{}", $crate::__private::hex::encode(self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ids::ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::__private::parse_hex32(s)
                    .map($name)
                    .ok_or_else(|| $crate::ids::ParseIdError::new($what, s))
            }
        }
    };
}

/// A 32-byte object ID on the coordination chain; text form `0x` + 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// The length of an object ID in bytes.
    pub const LENGTH: usize = 32;
}

crate::hex32_text!(ObjectId, "object ID");

/// Parses `0x`-prefixed (or bare) hex of exactly 32 bytes.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        assert_eq!("17".parse::<ShardIndex>(), Ok(ShardIndex(17)));
        assert_eq!(ShardIndex(17).to_string(), "17");
        assert_eq!(Epoch(4_000_000_000).to_string().parse::<Epoch>(), Ok(Epoch(4_000_000_000)));
        assert!("70000".parse::<SliverIndex>().is_err());
        assert!("-1".parse::<SliverPairIndex>().is_err());
        let id = ObjectId([0xab; 32]);
        assert_eq!(id.to_string().parse::<ObjectId>(), Ok(id));
        assert_eq!(hex::encode([0xab; 32]).parse::<ObjectId>(), Ok(id));
        assert!("0x12".parse::<ObjectId>().is_err());
        for t in [SliverType::Primary, SliverType::Secondary] {
            assert_eq!(t.to_string().parse::<SliverType>(), Ok(t));
        }
    }

    #[test]
    fn pair_and_sliver_indices_convert_as_the_reference() {
        let n = 10;
        let p = SliverPairIndex(3);
        assert_eq!(p.to_sliver_index(SliverType::Primary, n), SliverIndex(3));
        assert_eq!(p.to_sliver_index(SliverType::Secondary, n), SliverIndex(6));
        assert_eq!(SliverIndex(6).to_pair_index(SliverType::Secondary, n), p);
        assert_eq!(SliverIndex(9).to_pair_index(SliverType::Secondary, n), SliverPairIndex(0));
    }

    #[test]
    fn indices_encode_as_plain_integers_in_bcs() {
        assert_eq!(bcs::to_bytes(&ShardIndex(0x0102)).ok(), Some(vec![2, 1]));
        assert_eq!(bcs::to_bytes(&Epoch(5)).ok(), Some(vec![5, 0, 0, 0]));
        assert_eq!(bcs::to_bytes(&ObjectId([7; 32])).ok(), Some(vec![7; 32]));
    }
}
