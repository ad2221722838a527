//! Tags as decimal numbers, compared exactly. Build numbers and timestamps (`20240131120000`,
//! longer run ids) would lose precision as `f64`, and two tags that differ must not compare
//! equal because of it, so numbers are compared as digit strings.

use std::cmp::Ordering;

/// A tag read as a decimal number: `-?digits[.digits]`. Exponents, `inf`, `NaN`, hex and a
/// leading `+` are not numbers here, so tags such as `1e3` are ignored rather than guessed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros (empty for zero).
    integer: String,
    /// Fraction digits without trailing zeros.
    fraction: String,
}

impl Decimal {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty() || !digits(integer) || !digits(fraction) || unsigned.ends_with('.') {
            return None;
        }
        let integer = integer.trim_start_matches('0').to_owned();
        let fraction = fraction.trim_end_matches('0').to_owned();
        let is_zero = integer.is_empty() && fraction.is_empty();
        Some(Self {
            negative: negative && !is_zero,
            integer,
            fraction,
        })
    }

    fn magnitude_cmp(&self, other: &Self) -> Ordering {
        self.integer
            .len()
            .cmp(&other.integer.len())
            .then_with(|| self.integer.cmp(&other.integer))
            .then_with(|| self.fraction.cmp(&other.fraction))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.magnitude_cmp(other),
            (true, true) => other.magnitude_cmp(self),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn orders_by_value() {
        let mut tags = ["10", "9", "-1", "0.5", "0.45", "2.0", "-2.5", "0"];
        tags.sort_by_key(|tag| d(tag));
        assert_eq!(tags, ["-2.5", "-1", "0", "0.45", "0.5", "2.0", "9", "10"]);
    }

    #[test]
    fn equal_values_compare_equal() {
        assert_eq!(d("007"), d("7"));
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(d("-0"), d("0.0"));
    }

    #[test]
    fn long_numbers_stay_exact() {
        assert!(d("12345678901234567891") > d("12345678901234567890"));
        assert!(d("20240131120001") > d("20240131120000"));
    }

    #[test]
    fn what_is_not_a_number() {
        for tag in [
            "", "-", "1.", ".5", "1e3", "inf", "NaN", "+1", "1.2.3", "0x10", "v1", "1_000",
        ] {
            assert_eq!(Decimal::parse(tag), None, "{tag}");
        }
    }
}
