//! Durations as operators write them in the config: `90s`, `5m`, `6h`, `2d`, or a sum
//! such as `1h30m`.

/// Parses `text` into seconds, or says what is wrong with it.
pub fn parse_seconds(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. \"30s\", \"5m\", \"6h\" or \"2d\"".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("`{text}`: unknown unit `{c}` (use s, m, h or d)")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}`: a number must come before `{c}`"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("`{text}` is too long"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}`: the last number has no unit (s, m, h or d)"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("5m"), Ok(300));
        assert_eq!(parse_seconds("1h30m"), Ok(5400));
        assert_eq!(parse_seconds("2d"), Ok(172_800));
        assert_eq!(parse_seconds("0s"), Ok(0));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in ["", "5", "m", "5x", "1h5"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
