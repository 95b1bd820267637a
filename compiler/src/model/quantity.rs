//! Kubernetes quantities (`500m`, `1Gi`, `1e3`): Kubernetes' `resource.ParseQuantity`
//! (`k8s.io/apimachinery/pkg/api/resource/quantity.go`), and their order for comparing a
//! request with its limit (`Quantity.Cmp`).

use std::cmp::Ordering;

/// A parsed quantity: its value in units of 10⁻⁹ (Kubernetes keeps at most nano precision,
/// rounding up), or `None` when it is too large to compare here.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    nanos: Option<i128>,
}

impl Quantity {
    /// `resource.ParseQuantity`: `<sign>?<digits>(.<digits>)?<suffix>`, the suffix one of the
    /// binary SI suffixes (`Ki` … `Ei`), the decimal SI ones (`n`, `u`, `m`, none, `k`, `M`,
    /// `G`, `T`, `P`, `E`), or a decimal exponent (`e3`, `E-2`). `None`: not a quantity.
    pub fn parse(text: &str) -> Option<Quantity> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_part = &text[int_start..i];
        let mut frac_part = "";
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            frac_part = &text[start..i];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let (exp10, exp2) = match &text[i..] {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            suffix => {
                let exponent = suffix.strip_prefix(['e', 'E'])?;
                let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (exponent.parse::<i32>().ok()?, 0)
            }
        };
        Some(Quantity {
            nanos: nanos(int_part, frac_part, exp10, exp2).map(|n| if negative { -n } else { n }),
        })
    }

    /// Compares two quantities (`None`: one is too large to compare here).
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.nanos?.cmp(&other.nanos?))
    }
}

/// `digits × 10^(exp10 − fraction length + 9) × 2^exp2`, rounded up.
fn nanos(int_part: &str, frac_part: &str, exp10: i32, exp2: u32) -> Option<i128> {
    let mut mantissa: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    let scale = exp10 + 9 - i32::try_from(frac_part.len()).ok()?;
    if scale >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(scale).ok()?)?)
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-scale).ok()?);
        // Smaller than any comparable difference: 0 or the smallest unit, as Kubernetes rounds.
        Some(divisor.map_or(i128::from(mantissa != 0), |d| {
            mantissa / d + i128::from(mantissa % d != 0)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_parse_quantity_parses() {
        for ok in [
            "1",
            "0",
            "500m",
            "1.5",
            ".5",
            "5.",
            "1Gi",
            "100Mi",
            "1e3",
            "1E-2",
            "+1k",
            "-1",
            "2n",
            "3u",
            "1Ei",
            "12345678901234567890",
        ] {
            assert!(Quantity::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "1 Gi",
            "1gi",
            "Gi",
            "1GB",
            "1.2.3",
            "1e",
            "1e1.5",
            "$(params.cpu)",
            "one",
            "1mi",
            ".",
        ] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn compares_across_suffixes() {
        let q = |s| Quantity::parse(s).unwrap_or(Quantity { nanos: None });
        assert_eq!(q("1").compare(&q("1000m")), Some(Ordering::Equal));
        assert_eq!(q("1Gi").compare(&q("1073741824")), Some(Ordering::Equal));
        assert_eq!(q("1G").compare(&q("1Gi")), Some(Ordering::Less));
        assert_eq!(q("0.1").compare(&q("100m")), Some(Ordering::Equal));
        assert_eq!(q("2").compare(&q("1e3")), Some(Ordering::Less));
        assert_eq!(q("1.5").compare(&q("1500m")), Some(Ordering::Equal));
    }
}
