//! Path patterns of routes, redirects, headers and ignore lists, as the reference portal's
//! default ("legacy") routing reads them: a pattern starts with `/`, each `*` matches any run of
//! characters (`/` included), the rest matches itself, the whole path must match, and of
//! several matching patterns the longest wins (on a tie, the first in order).

/// Most `*` in one pattern (the reference's limit).
pub const STARS_MAX: usize = 2;

/// Checks a pattern: from `/`, at most [`STARS_MAX`] stars, none of the characters the
/// reference rejects (`()[]{}+?^$|\`), no control characters, at most 1024 bytes.
pub fn check(pattern: &str) -> Result<(), &'static str> {
    if !pattern.starts_with('/') {
        return Err("a pattern starts with '/'");
    }
    if pattern.len() > super::PATH_BYTES_MAX {
        return Err("a pattern is at most 1024 bytes");
    }
    if pattern.matches('*').count() > STARS_MAX {
        return Err("a pattern has at most two '*'");
    }
    if pattern.chars().any(|c| c.is_control() || "()[]{}+?^$|\\".contains(c)) {
        return Err("a pattern has none of ()[]{}+?^$|\\ and no control characters");
    }
    Ok(())
}

/// Whether `path` matches `pattern` as a whole.
pub fn matches(pattern: &str, path: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), path.as_bytes());
    // Greedy matching with a single backtrack point (the last star): linear in practice.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == s[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// The value of the longest pattern `path` matches, if any.
pub fn best<'a, V>(patterns: impl IntoIterator<Item = (&'a String, &'a V)>, path: &str) -> Option<&'a V> {
    let mut found: Option<(&String, &V)> = None;
    for (pattern, value) in patterns {
        if matches(pattern, path) && found.is_none_or(|(best, _)| pattern.len() > best.len()) {
            found = Some((pattern, value));
        }
    }
    found.map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn stars_match_any_run_and_the_whole_path_must_match() {
        assert!(matches("/*", "/"));
        assert!(matches("/*", "/a/b/c.html"));
        assert!(matches("/docs/*", "/docs/x/y"));
        assert!(!matches("/docs/*", "/doc"));
        assert!(matches("/a*b*c", "/aXbYc"));
        assert!(matches("/a*b*c", "/abbc"));
        assert!(!matches("/a*b*c", "/aXbY"));
        assert!(matches("/exact.html", "/exact.html"));
        assert!(!matches("/exact.html", "/exact.htm"));
        assert!(!matches("/exact.html", "/exact.html/"));
        assert!(matches("/*.png", "/img/a.png"));
        assert!(!matches("/*.png", "/img/a.png.txt"));
    }

    #[test]
    fn the_longest_pattern_wins() {
        let routes: BTreeMap<String, &str> =
            [("/*", "/index.html"), ("/accounts/*", "/accounts.html"), ("/accounts/me", "/me.html")]
                .map(|(k, v)| (k.to_string(), v))
                .into();
        assert_eq!(best(&routes, "/x"), Some(&"/index.html"));
        assert_eq!(best(&routes, "/accounts/42"), Some(&"/accounts.html"));
        assert_eq!(best(&routes, "/accounts/me"), Some(&"/me.html"));
        assert_eq!(best(&BTreeMap::<String, u8>::new(), "/x"), None);
    }

    #[test]
    fn checks_follow_the_reference() {
        check("/*").expect("valid");
        check("/a/*/b/*").expect("valid");
        assert!(check("a/*").is_err());
        assert!(check("/*/*/*").is_err());
        assert!(check("/(a)").is_err());
        assert!(check("/a?").is_err());
    }
}
