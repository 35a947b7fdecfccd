//! Batching many one-dimensional RS codewords into one library call ("strips").
//!
//! `reed-solomon-simd` works on shards whose bytes hold 16-bit field elements in a blocked
//! layout: each full 64-byte block holds the low bytes of 32 elements, then their high bytes;
//! a final partial block of `t` bytes holds `t/2` low bytes, then `t/2` high bytes. A symbol
//! of `s` bytes on the wire is one such shard. The codes act on each element position
//! independently, so `M` codewords can be encoded in one call on shards of `M * s` bytes, as
//! long as every shard maps element `e` of symbol `m` to the same position.
//!
//! This module fixes that mapping (a [`StripLayout`]): the full 64-byte blocks of each symbol are
//! copied whole (block-aligned), and the tail elements of all symbols are packed after them.
//! Copying is a list of runs computed once per `(M, s)` and applied to every shard of the call.
//! One call on big strips replaces `M` calls on tiny shards, each of which the library would pad
//! to 64 bytes: at `s = 2` that is 32 times less work.

/// A contiguous byte range that moves between a symbol and a strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    symbol_offset: usize,
    strip_offset: usize,
    len: usize,
}

/// The element mapping between `symbols` symbols of `symbol_size` bytes and one strip.
#[derive(Debug, Clone)]
pub(crate) struct StripLayout {
    symbols: usize,
    symbol_size: usize,
    /// `runs[run_starts[m]..run_starts[m + 1]]` are symbol `m`'s runs.
    runs: Vec<Run>,
    run_starts: Vec<usize>,
}

impl StripLayout {
    /// The layout for `symbols` symbols of `symbol_size` bytes (even, non-zero).
    pub(crate) fn new(symbols: usize, symbol_size: usize) -> Self {
        debug_assert!(symbol_size > 0 && symbol_size.is_multiple_of(2));
        let full_blocks = symbol_size / 64;
        let tail_bytes = symbol_size % 64;
        let tail_elems = tail_bytes / 2;
        // Region A: each symbol's full blocks, symbol after symbol.
        let region_a = symbols * full_blocks * 64;
        // Region B: the tail elements of all symbols, `tail_elems` per symbol, in element order.
        let total_tail_elems = symbols * tail_elems;
        let b_full_blocks = total_tail_elems / 32;
        let b_last_elems = total_tail_elems - b_full_blocks * 32;
        // Byte positions of the low and high byte of tail element `g` inside the strip.
        let lo_hi = |g: usize| -> (usize, usize) {
            if g < b_full_blocks * 32 {
                let lo = region_a + (g / 32) * 64 + g % 32;
                (lo, lo + 32)
            } else {
                let o = g - b_full_blocks * 32;
                let base = region_a + b_full_blocks * 64;
                (base + o, base + b_last_elems + o)
            }
        };
        let mut runs = Vec::with_capacity(symbols * 5);
        let mut run_starts = Vec::with_capacity(symbols + 1);
        for m in 0..symbols {
            run_starts.push(runs.len());
            if full_blocks > 0 {
                runs.push(Run {
                    symbol_offset: 0,
                    strip_offset: m * full_blocks * 64,
                    len: full_blocks * 64,
                });
            }
            let (first, end) = (m * tail_elems, (m + 1) * tail_elems);
            let mut g = first;
            while g < end {
                // A piece may not cross a 32-element block boundary of region B.
                let piece_end = if g < b_full_blocks * 32 { end.min((g / 32 + 1) * 32) } else { end };
                let (lo, hi) = lo_hi(g);
                let j = g - first;
                let len = piece_end - g;
                runs.push(Run { symbol_offset: full_blocks * 64 + j, strip_offset: lo, len });
                runs.push(Run { symbol_offset: full_blocks * 64 + tail_elems + j, strip_offset: hi, len });
                g = piece_end;
            }
        }
        run_starts.push(runs.len());
        StripLayout { symbols, symbol_size, runs, run_starts }
    }

    /// Bytes of one strip.
    pub(crate) fn strip_len(&self) -> usize {
        self.symbols * self.symbol_size
    }

    fn runs_of(&self, m: usize) -> &[Run] {
        &self.runs[self.run_starts[m]..self.run_starts[m + 1]]
    }

    /// Fills `strip` from the symbols `source(m)`. A source shorter than the symbol size is
    /// zero-padded (the blob's padding is never materialized).
    pub(crate) fn gather<'a>(&self, strip: &mut [u8], source: impl Fn(usize) -> &'a [u8]) {
        debug_assert_eq!(strip.len(), self.strip_len());
        for m in 0..self.symbols {
            let symbol = source(m);
            for run in self.runs_of(m) {
                let dst = &mut strip[run.strip_offset..run.strip_offset + run.len];
                let available = symbol.len().saturating_sub(run.symbol_offset).min(run.len);
                if available > 0 {
                    dst[..available]
                        .copy_from_slice(&symbol[run.symbol_offset..run.symbol_offset + available]);
                }
                dst[available..].fill(0);
            }
        }
    }

    /// Hands every byte range of `strip` to `sink(m, offset_in_symbol, bytes)`.
    pub(crate) fn scatter(&self, strip: &[u8], mut sink: impl FnMut(usize, usize, &[u8])) {
        debug_assert_eq!(strip.len(), self.strip_len());
        for m in 0..self.symbols {
            for run in self.runs_of(m) {
                sink(m, run.symbol_offset, &strip[run.strip_offset..run.strip_offset + run.len]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Library layout: position of the low and high byte of element `e` in a shard of `len` bytes.
    fn library_position(len: usize, e: usize) -> (usize, usize) {
        let full = len / 64;
        if e < full * 32 {
            (e / 32 * 64 + e % 32, e / 32 * 64 + 32 + e % 32)
        } else {
            let t = len - full * 64;
            let o = e - full * 32;
            (full * 64 + o, full * 64 + t / 2 + o)
        }
    }

    #[test]
    fn layout_is_a_bijection_of_elements_consistent_with_the_library() {
        for s in [2usize, 4, 6, 62, 64, 66, 96, 128, 130, 200] {
            for m_count in [1usize, 2, 3, 31, 32, 33, 70] {
                let layout = StripLayout::new(m_count, s);
                // Fill symbol m element e with a unique 16-bit value, in the library layout.
                let value = |m: usize, e: usize| ((m * 1000 + e) % 65521) as u16;
                let symbols: Vec<Vec<u8>> = (0..m_count)
                    .map(|m| {
                        let mut sym = vec![0u8; s];
                        for e in 0..s / 2 {
                            let (lo, hi) = library_position(s, e);
                            let [l, h] = value(m, e).to_le_bytes();
                            sym[lo] = l;
                            sym[hi] = h;
                        }
                        sym
                    })
                    .collect();
                let mut strip = vec![0u8; layout.strip_len()];
                layout.gather(&mut strip, |m| &symbols[m]);
                // Every element must appear exactly once as a whole (lo, hi) pair in the strip.
                let mut seen = std::collections::BTreeSet::new();
                for e in 0..strip.len() / 2 {
                    let (lo, hi) = library_position(strip.len(), e);
                    seen.insert(u16::from_le_bytes([strip[lo], strip[hi]]));
                }
                let expected: std::collections::BTreeSet<u16> =
                    (0..m_count).flat_map(|m| (0..s / 2).map(move |e| value(m, e))).collect();
                assert_eq!(seen, expected, "s = {s}, m = {m_count}");
                // Scatter inverts gather.
                let mut back = vec![vec![0u8; s]; m_count];
                layout
                    .scatter(&strip, |m, off, bytes| back[m][off..off + bytes.len()].copy_from_slice(bytes));
                assert_eq!(back, symbols);
            }
        }
    }

    #[test]
    fn short_sources_are_zero_padded() {
        let layout = StripLayout::new(2, 4);
        let mut strip = vec![0xff; 8];
        layout.gather(&mut strip, |m| if m == 0 { &[1, 2, 3][..] } else { &[][..] });
        let mut back = vec![vec![0u8; 4]; 2];
        layout.scatter(&strip, |m, off, bytes| back[m][off..off + bytes.len()].copy_from_slice(bytes));
        assert_eq!(back, vec![vec![1, 2, 3, 0], vec![0, 0, 0, 0]]);
    }
}
