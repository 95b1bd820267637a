//! "Did you mean" suggestions for misspelled names.

/// The candidate closest to `given`, if one is close enough to be a likely typo: the same
/// name in another case (`runafter` → `runAfter`), or within an edit distance of about a third
/// of its length (`scirpt` → `script`).
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == given {
            continue;
        }
        let lower = candidate.to_ascii_lowercase();
        let distance = if lower == given_lower {
            0
        } else {
            // Separators differ between syntaxes (`runAfter`, `run-after`, `run_after`).
            let a: String = given_lower
                .chars()
                .filter(|c| !matches!(c, '-' | '_'))
                .collect();
            let b: String = lower.chars().filter(|c| !matches!(c, '-' | '_')).collect();
            if a == b {
                0
            } else {
                1 + damerau_levenshtein(&a, &b)
            }
        };
        let limit = 1 + given.chars().count().max(3) / 3;
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance (transpositions count as one edit).
fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 8 {
        return usize::MAX / 2;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = v;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos() {
        let fields = ["name", "image", "script", "runAfter", "workingDir"];
        assert_eq!(did_you_mean("scirpt", fields), Some("script"));
        assert_eq!(did_you_mean("runafter", fields), Some("runAfter"));
        assert_eq!(did_you_mean("run-after", fields), Some("runAfter"));
        assert_eq!(did_you_mean("imagee", fields), Some("image"));
        assert_eq!(did_you_mean("workngDir", fields), Some("workingDir"));
        assert_eq!(did_you_mean("completely", fields), None);
    }
}
