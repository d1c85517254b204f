//! Cron expressions: parsing the 5-field (minute-precision) and 6-field (with seconds)
//! forms into one bit set per field, and matching a civil date-time against them.
//! Vixie cron's rules: `*`, `?`, lists, ranges, steps, month and weekday names,
//! Sunday as 0 or 7, and day-of-month OR day-of-week when both are restricted.

use jiff::civil::{Date, DateTime};

/// Why an expression is not a cron expression: which field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    /// Byte offset of the offending field in the expression (for positioned errors).
    pub offset: usize,
    pub message: String,
}

/// One field's allowed values as bits, plus whether it was written as `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    any: bool,
}

impl Field {
    fn matches(self, value: i8) -> bool {
        value >= 0 && self.bits & (1 << value) != 0
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    second: Field,
    minute: Field,
    hour: Field,
    day: Field,
    month: Field,
    weekday: Field,
}

struct Spec {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
}

const SECOND: Spec = Spec {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Spec = Spec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Spec = Spec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
// 7 is Sunday too; folded onto 0 after parsing.
const WEEKDAY: Spec = Spec {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// The `@` shortcuts, as their 5-field equivalents.
fn shortcut(text: &str) -> Option<&'static str> {
    Some(match text {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

impl Cron {
    /// Parses `min hour dom month dow`, `sec min hour dom month dow`, or an `@daily`
    /// style shortcut.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let trimmed = text.trim();
        if let Some(expanded) = shortcut(trimmed) {
            return Cron::parse(expanded);
        }
        if trimmed.starts_with('@') {
            return Err(CronError {
                offset: text.find('@').unwrap_or(0),
                message: format!("unknown shortcut `{trimmed}` (use @yearly, @monthly, @weekly, @daily or @hourly)"),
            });
        }
        let fields = split_fields(text);
        let specs: &[&Spec] = match fields.len() {
            5 => &[&MINUTE, &HOUR, &DAY, &MONTH, &WEEKDAY],
            6 => &[&SECOND, &MINUTE, &HOUR, &DAY, &MONTH, &WEEKDAY],
            n => {
                return Err(CronError {
                    offset: 0,
                    message: format!("a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; `{trimmed}` has {n}"),
                })
            }
        };
        let mut parsed = Vec::with_capacity(6);
        if fields.len() == 5 {
            parsed.push(Field {
                bits: 1,
                any: false,
            });
        }
        for ((offset, field), spec) in fields.iter().zip(specs) {
            parsed.push(parse_field(field, spec).map_err(|message| CronError {
                offset: *offset,
                message,
            })?);
        }
        let mut weekday = parsed[5];
        if weekday.bits & (1 << 7) != 0 {
            weekday.bits = (weekday.bits & !(1 << 7)) | 1;
        }
        Ok(Cron {
            second: parsed[0],
            minute: parsed[1],
            hour: parsed[2],
            day: parsed[3],
            month: parsed[4],
            weekday,
        })
    }

    pub(super) fn matches_month(&self, month: i8) -> bool {
        self.month.matches(month)
    }

    /// Vixie cron: when both day fields are restricted, either may match.
    pub(super) fn matches_day(&self, date: Date) -> bool {
        let dom = self.day.matches(date.day());
        let dow = self.weekday.matches(date.weekday().to_sunday_zero_offset());
        match (self.day.any, self.weekday.any) {
            (false, false) => dom || dow,
            _ => dom && dow,
        }
    }

    pub(super) fn matches_hour(&self, hour: i8) -> bool {
        self.hour.matches(hour)
    }

    pub(super) fn matches_minute(&self, minute: i8) -> bool {
        self.minute.matches(minute)
    }

    pub(super) fn matches_second(&self, second: i8) -> bool {
        self.second.matches(second)
    }

    /// Whether `at` (civil, whole seconds) is one of the expression's times.
    pub fn matches(&self, at: DateTime) -> bool {
        self.matches_month(at.month())
            && self.matches_day(at.date())
            && self.matches_hour(at.hour())
            && self.matches_minute(at.minute())
            && self.matches_second(at.second())
    }
}

/// The whitespace-separated fields with their byte offsets.
fn split_fields(text: &str) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                fields.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        fields.push((s, &text[s..]));
    }
    fields
}

fn parse_field(text: &str, spec: &Spec) -> Result<Field, String> {
    if text == "*" || text == "?" {
        return Ok(Field {
            bits: range_bits(spec.min, spec.max, 1),
            any: true,
        });
    }
    let mut bits = 0;
    for part in text.split(',') {
        bits |= parse_part(part, spec)?;
    }
    Ok(Field { bits, any: false })
}

/// One list element: `*/n`, `a`, `a-b`, `a-b/n` or `a/n` (from a to the maximum).
fn parse_part(part: &str, spec: &Spec) -> Result<u64, String> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => {
            let step: u8 =
                step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("`{part}`: the step after `/` must be a positive number")
                })?;
            (range, step)
        }
        None => (part, 1),
    };
    let (low, high) = if range == "*" {
        (spec.min, spec.max)
    } else if let Some((a, b)) = range.split_once('-') {
        (value(a, spec)?, value(b, spec)?)
    } else {
        let a = value(range, spec)?;
        (a, if part.contains('/') { spec.max } else { a })
    };
    if low > high {
        return Err(format!("`{part}`: the range {low}-{high} runs backwards"));
    }
    Ok(range_bits(low, high, step))
}

fn value(text: &str, spec: &Spec) -> Result<u8, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(spec.min + i as u8);
    }
    let n: u8 = text.parse().map_err(|_| {
        let names = if spec.names.is_empty() {
            String::new()
        } else {
            format!(" or a name ({}…)", spec.names[..3].join(", "))
        };
        format!("`{text}` is not a valid {}: use a number{names}", spec.name)
    })?;
    if n < spec.min || n > spec.max {
        return Err(format!(
            "{} {n} is out of range {}-{}",
            spec.name, spec.min, spec.max
        ));
    }
    Ok(n)
}

fn range_bits(low: u8, high: u8, step: u8) -> u64 {
    (low..=high)
        .step_by(usize::from(step))
        .fold(0, |bits, v| bits | (1 << v))
}
