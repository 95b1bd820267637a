//! Go duration strings (`90s`, `1h0m0s`, `1.5ms`), the format of Tekton's `-timeout` flag.

/// Parses a Go duration string into signed nanoseconds, following `time.ParseDuration`:
/// an optional sign, then one or more `<decimal><unit>` parts with units
/// `ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`; a bare `0` is allowed.
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    // Accumulate in f64-free integer arithmetic (as Go does) to stay exact for whole numbers.
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        total = total
            .checked_add(whole.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        // Fractional digits beyond nanosecond precision are dropped, like Go.
        let mut scale = unit;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            total += u128::from(d - b'0') * scale;
        }
        if total > i64::MAX as u128 {
            return Err(bad());
        }
    }
    let total = i64::try_from(total).map_err(|_| bad())?;
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration as p;

    #[test]
    fn accepts_go_forms() {
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("90s"), Ok(90_000_000_000));
        assert_eq!(p("1h0m0s"), Ok(3_600_000_000_000));
        assert_eq!(p("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(p("300ms"), Ok(300_000_000));
        assert_eq!(p("2m3.5s"), Ok(123_500_000_000));
        assert_eq!(p("1us"), Ok(1_000));
        assert_eq!(p("1µs"), Ok(1_000));
        assert_eq!(p(".5s"), Ok(500_000_000));
        assert_eq!(p("-1s"), Ok(-1_000_000_000));
        assert_eq!(p("+10ns"), Ok(10));
        assert_eq!(p("1.0000000001s"), Ok(1_000_000_000));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "-",
            "10",
            "s",
            "1x",
            "1.s.",
            "1h 2m",
            "99999999999999999999h",
            ".",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
