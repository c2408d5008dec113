//! Kubernetes resource quantities (`500m`, `2`, `1.5`, `8Gi`, `512Mi`, `1e3`), checked here so that a typo in a
//! task's `cpu` or `memory` header is an incident naming the header rather than a Job the API server refuses.
//!
//! The grammar is Kubernetes' `resource.Quantity`: a decimal number (`1`, `1.5`, `.5`, `1.`) followed by one
//! binary suffix (`Ki Mi Gi Ti Pi Ei`), one decimal suffix (`n u m k M G T P E`) or a decimal exponent
//! (`e3`, `E-2`). A sign is refused, and so is zero: a resource request must be positive.

/// `Ok(())` when `text` is a positive Kubernetes quantity, else a phrase saying what is wrong.
pub(crate) fn check(text: &str) -> Result<(), &'static str> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    if number.is_empty() {
        return Err(if text.starts_with(['+', '-']) {
            "a resource quantity cannot be signed"
        } else {
            "a quantity starts with a number"
        });
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err("a quantity has one number with at most one '.'");
    }
    if !number.chars().any(|c| c.is_ascii_digit() && c != '0') {
        return Err("a resource quantity must be positive");
    }
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        _ => suffix
            .strip_prefix(['e', 'E'])
            .map(|exp| exp.strip_prefix(['+', '-']).unwrap_or(exp))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
    };
    if suffix_ok {
        Ok(())
    } else {
        Err("the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3")
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_kubernetes_quantities() {
        for ok in [
            "1", "2", "500m", "0.5", ".5", "1.", "8Gi", "512Mi", "1Ki", "1e3", "1E-2", "1e+3",
            "100n", "3u", "1k", "2M", "1Ei", "0.1",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for (bad, why) in [
            ("", "a quantity starts with a number"),
            ("Gi", "a quantity starts with a number"),
            ("-1", "a resource quantity cannot be signed"),
            ("+1", "a resource quantity cannot be signed"),
            ("0", "a resource quantity must be positive"),
            ("0.0Gi", "a resource quantity must be positive"),
            ("1.2.3", "a quantity has one number with at most one '.'"),
            (".", "a quantity has one number with at most one '.'"),
            ("8GB", "the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3"),
            ("8 Gi", "the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3"),
            ("1e", "the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3"),
            ("2 cores", "the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3"),
            ("1gi", "the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3"),
        ] {
            assert_eq!(check(bad), Err(why), "{bad:?}");
        }
    }
}
