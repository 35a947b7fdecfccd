//! How long a store keeps a blob, as the reference's store options: `--epochs N|max`,
//! `--end-epoch E` or `--earliest-expiry-time T` (at most one; one epoch when none is given),
//! checked against the system's limits before anything is sent to the chain.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use walrus_chain::epoch::EpochState;
use walrus_chain::system::System;

/// The lifetime options of `store` and `store-quilt`.
#[derive(Debug, Clone, clap::Args)]
#[group(multiple = false)]
pub struct EpochArgs {
    /// Epochs ahead to store for: a number, or `max` (the system's maximum) [default: 1].
    #[arg(long)]
    epochs: Option<String>,
    /// The epoch at which the blob expires (exclusive): stored for the epochs until then.
    #[arg(long)]
    end_epoch: Option<u32>,
    /// Store at least until this time: RFC 3339 UTC (`2026-12-31T23:59:59Z`, or with a space
    /// for the `T`).
    #[arg(long)]
    earliest_expiry_time: Option<String>,
}

impl EpochArgs {
    /// Epochs ahead, from the current epoch of `system`, within its maximum.
    pub fn epochs_ahead(&self, system: &System) -> Result<u32> {
        let current = system.epoch().0;
        if let Some(text) = &self.epochs {
            return epochs_ahead(text, system);
        }
        let ahead = match (self.end_epoch, &self.earliest_expiry_time) {
            (Some(end), _) if end <= current => {
                anyhow::bail!("--end-epoch {end} is not after the current epoch {current}")
            }
            (Some(end), _) => end - current,
            (None, Some(time)) => until(time, system)?,
            (None, None) => 1,
        };
        within_max(ahead, system)
    }
}

/// `--epochs`: a positive number, or `max` (the system's maximum), within the maximum.
pub(crate) fn epochs_ahead(text: &str, system: &System) -> Result<u32> {
    let ahead = match text {
        "max" => system.params.max_epochs_ahead,
        text => text
            .parse()
            .ok()
            .filter(|e| *e > 0)
            .with_context(|| format!("--epochs must be a positive number or `max`, not {text:?}"))?,
    };
    within_max(ahead, system)
}

fn within_max(ahead: u32, system: &System) -> Result<u32> {
    let max = system.params.max_epochs_ahead;
    if ahead > max {
        anyhow::bail!(
            "{ahead} epochs ahead asked; this system stores for 1 to {max} epochs (`--epochs max`)"
        );
    }
    Ok(ahead)
}

/// Epochs ahead whose end is at or after `time`, as the reference computes them: from the
/// start of the current epoch (now while it is changing), one more than the whole epochs to it.
fn until(time: &str, system: &System) -> Result<u32> {
    let at = parse_rfc3339(time).context("--earliest-expiry-time")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    if at <= now {
        anyhow::bail!("--earliest-expiry-time {time} is not in the future");
    }
    let start = epoch_start_ms(system, now);
    let duration = system.params.epoch_duration_ms.max(1);
    Ok(u32::try_from((at.saturating_sub(start)) / duration + 1).unwrap_or(u32::MAX))
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC time (`YYYY-MM-DDTHH:MM:SSZ`; a space
/// may stand for the `T` and the `Z` may be left out, as the reference's weak form).
pub(crate) fn parse_rfc3339(text: &str) -> Result<u64> {
    let bad = || anyhow::anyhow!("{text:?} is not an RFC 3339 UTC time like 2026-12-31T23:59:59Z");
    let trimmed = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = trimmed.split_once(['T', ' ']).ok_or_else(bad)?;
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let t: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let ([y, m, day], [hh, mm, ss]) =
        (d[..].try_into().map_err(|_| bad())?, t[..].try_into().map_err(|_| bad())?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000).map_err(|_| bad())
}

/// An RFC 3339 UTC time from milliseconds since the Unix epoch.
pub(crate) fn rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// When the current epoch started (ms since the Unix epoch): `now` while it is changing.
fn epoch_start_ms(system: &System, now: u64) -> u64 {
    match system.epoch_state {
        EpochState::ChangeSync { .. } => now,
        EpochState::ChangeDone { since_ms } | EpochState::NextParamsSelected { since_ms } => since_ms,
    }
}

/// When epoch `epoch` starts, estimated from the current epoch's start and the epoch length
/// (RFC 3339 UTC): a blob stored until `epoch` expires then.
pub(crate) fn epoch_start_estimate(system: &System, epoch: u32) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let start = epoch_start_ms(system, now);
    let ahead = u64::from(epoch.saturating_sub(system.epoch().0));
    rfc3339(start.saturating_add(ahead.saturating_mul(system.params.epoch_duration_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse_to_unix_milliseconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").expect("epoch"), 0);
        assert_eq!(parse_rfc3339("2024-12-06T12:00:00Z").expect("time"), 1_733_486_400_000);
        assert_eq!(parse_rfc3339("2024-12-06 12:00:00").expect("weak form"), 1_733_486_400_000);
        assert_eq!(parse_rfc3339("2000-02-29T00:00:01Z").expect("leap day"), 951_782_401_000);
        for bad in ["2024-13-01T00:00:00Z", "yesterday", "2024-12-06T12:00Z"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_print_as_rfc3339_and_parse_back() {
        for ms in [0, 951_782_401_000, 1_733_486_400_000, 4_102_444_799_000] {
            let text = rfc3339(ms);
            assert_eq!(parse_rfc3339(&text).expect("parses"), ms, "{text}");
        }
        assert_eq!(rfc3339(1_733_486_400_000), "2024-12-06T12:00:00Z");
    }
}
