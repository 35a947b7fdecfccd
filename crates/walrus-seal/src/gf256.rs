//! Shamir secret sharing over GF(2^8) with the AES polynomial `x^8 + x^4 + x^3 + x + 1`, one
//! polynomial per byte of the secret, as Seal's `shamir.mjs`: the share of index `x` (1-based,
//! distinct, non-zero) holds each polynomial's value at `x`; any `t` shares give the secret back
//! by Lagrange interpolation at 0.

/// The product of `a` and `b` in GF(2^8).
pub fn mul(a: u8, b: u8) -> u8 {
    let (mut a, mut b, mut out) = (a, b, 0u8);
    while b != 0 {
        if b & 1 != 0 {
            out ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    out
}

/// The inverse of a non-zero `a` (`a^254`).
pub fn inv(a: u8) -> u8 {
    let mut out = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp != 0 {
        if exp & 1 != 0 {
            out = mul(out, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    out
}

/// The value at `x` of the polynomial with `coefficients` (constant term first).
pub fn eval(coefficients: &[u8], x: u8) -> u8 {
    coefficients.iter().rev().fold(0, |acc, &c| mul(acc, x) ^ c)
}

/// Splits `secret` into shares for the indices `1..=n` with threshold `t`: byte `b` of share
/// `i` is `p_b(i)`, where `p_b` has constant term `secret[b]` and the `t - 1` higher
/// coefficients `coefficient(b, k)` (`k` in `1..t`).
pub fn split(secret: &[u8; 32], t: u8, n: u8, coefficient: impl Fn(usize, usize) -> u8) -> Vec<[u8; 32]> {
    let polynomials: Vec<Vec<u8>> = (0..32)
        .map(|b| std::iter::once(secret[b]).chain((1..usize::from(t)).map(|k| coefficient(b, k))).collect())
        .collect();
    (1..=n).map(|x| std::array::from_fn(|b| eval(&polynomials[b], x))).collect()
}

/// The secret from `shares` (index, share): Lagrange interpolation at 0 over all of them. The
/// caller checks that the indices are distinct and non-zero.
pub fn combine(shares: &[(u8, [u8; 32])]) -> [u8; 32] {
    std::array::from_fn(|b| interpolate(shares.iter().map(|(x, share)| (*x, share[b])), 0))
}

/// The value at `at` of the polynomial through `points`.
fn interpolate(points: impl Iterator<Item = (u8, u8)> + Clone, at: u8) -> u8 {
    let mut out = 0u8;
    for (j, (xj, yj)) in points.clone().enumerate() {
        let (mut num, mut den) = (1u8, 1u8);
        for (m, (xm, _)) in points.clone().enumerate() {
            if m != j {
                num = mul(num, xm ^ at);
                den = mul(den, xm ^ xj);
            }
        }
        out ^= mul(yj, mul(num, inv(den)));
    }
    out
}

/// Every share `(index, share)` lies on the polynomials through the first `t` of them.
pub fn consistent(shares: &[(u8, [u8; 32])], t: usize) -> bool {
    let basis = &shares[..t.min(shares.len())];
    shares[basis.len()..].iter().all(|(x, share)| {
        (0..32).all(|b| interpolate(basis.iter().map(|(xi, s)| (*xi, s[b])), *x) == share[b])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_the_aes_field() {
        // FIPS-197's example: {57} x {83} = {c1}; generator 3's powers as Seal's table starts.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        let mut x = 1u8;
        let powers: Vec<u8> = (0..9)
            .map(|_| {
                let now = x;
                x = mul(x, 3);
                now
            })
            .collect();
        assert_eq!(powers, [1, 3, 5, 15, 17, 51, 85, 255, 26]);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "{a}");
        }
    }

    #[test]
    fn any_t_shares_give_the_secret_and_fewer_do_not_determine_it() {
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
        let shares = split(&secret, 3, 5, |b, k| (b * 31 + k * 17) as u8 ^ 0x5a);
        let indexed: Vec<(u8, [u8; 32])> =
            shares.iter().enumerate().map(|(i, s)| (i as u8 + 1, *s)).collect();
        for pick in [[0, 1, 2], [0, 2, 4], [4, 3, 1]] {
            let chosen: Vec<_> = pick.iter().map(|&i| indexed[i]).collect();
            assert_eq!(combine(&chosen), secret);
        }
        assert_ne!(combine(&indexed[..2]), secret);
        assert!(consistent(&indexed, 3));
        let mut bad = indexed.clone();
        bad[4].1[0] ^= 1;
        assert!(!consistent(&bad, 3));
    }
}
