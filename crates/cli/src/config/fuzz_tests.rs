//! Hostile input, fuzzed with proptest (a bounded run in CI; `PROPTEST_CASES=100000`
//! for a long one): mutated configuration files, and arbitrary `APP/SOURCE`, `--at`,
//! repository URLs and `--to` targets (the URLs each kind parses). Nothing panics; every rejection is a message, and a config
//! message names the file.

use super::*;
use proptest::prelude::*;

const SAMPLE: &str = include_str!("../../../../examples/3scale.toml");

/// Pieces a mutation inserts: TOML syntax, keys, odd values.
const PIECES: &[&str] = &[
    "[",
    "]",
    "[[app]]",
    "[[app.source]]",
    "[repository]",
    "=",
    "\"",
    "'",
    "\n",
    "{",
    "}",
    ",",
    "#",
    "name = \"x\"",
    "kind = \"postgres\"",
    "kind = \"nope\"",
    "url = \"\"",
    "retention = { strategy = \"daily\", keep = -1 }",
    "schedule = \"99 * * * *\"",
    "every = \"0s\"",
    "restore_after = [\"db\"]",
    "password_env = \"\"",
    "\u{0}",
    "ü",
    "9999999999999999999999",
    "-1",
    "true",
    "1979-05-27T07:32:00Z",
    "lock_wait = \"x\"",
];

/// `PROPTEST_CASES`, else 512 (the bounded run of CI).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512)
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), 0..PIECES.len()).prop_map(|(at, piece)| Edit::Insert(at, piece)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// The byte offset `at` (modulo the length) moved back to a char boundary.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match *edit {
        Edit::Delete(at, len) => {
            let start = boundary(text, at);
            let end = boundary(text, start.saturating_add(len).min(text.len()));
            text.replace_range(start..end.max(start), "");
        }
        Edit::Insert(at, piece) => {
            let at = boundary(text, at);
            text.insert_str(at, PIECES[piece]);
        }
        Edit::DuplicateLine(n) => {
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let line = lines[n % lines.len()].to_string();
                text.push('\n');
                text.push_str(&line);
            }
        }
        Edit::Truncate(at) => {
            let at = boundary(text, at);
            text.truncate(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_load_or_name_the_file(edits in proptest::collection::vec(edit(), 1..6)) {
        let mut text = SAMPLE.to_string();
        for e in &edits {
            apply(&mut text, e);
        }
        let path = Path::new("/etc/lifeboat/fuzzed.toml");
        if let Err(ConfigError(messages)) = parse(path, &text) {
            prop_assert!(!messages.is_empty());
            for m in &messages {
                prop_assert!(m.contains("fuzzed.toml"), "{m}");
            }
        }
    }

    #[test]
    fn arbitrary_text_is_a_config_error_not_a_panic(text in "\\PC{0,200}") {
        let _ = parse(Path::new("x.toml"), &text);
    }

    #[test]
    fn selectors_parse_or_say_why(text in "\\PC{0,60}") {
        if let Err(e) = lifeboat_core::Selector::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn at_dates_parse_or_say_why(text in "[0-9T:+\\-Z. a-z]{0,40}") {
        if let Err(e) = crate::commands::restore::at::parse(&text, &jiff::tz::TimeZone::UTC) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn repository_urls_parse_or_say_why(text in "(s3://|sftp://|ftp://|ftps://|rest:http://|rest:https://|/|)\\PC{0,60}") {
        let options = std::collections::BTreeMap::new();
        if let Err(e) = lifeboat_repo::Location::parse(&text, &options) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn restore_targets_parse_or_say_why(text in "(postgres://|postgresql://|mysql://|mariadb://|redis://|rediss://|s3://|)\\PC{0,60}") {
        use lifeboat_sources::{bucket::BucketTarget, mysql::MysqlTarget, postgres::PgTarget, redis::RedisTarget};
        let said = |e: lifeboat_sources::SourceError| !e.to_string().is_empty();
        if let Err(e) = PgTarget::parse(&text, None) { prop_assert!(said(e)); }
        if let Err(e) = MysqlTarget::parse(&text, None) { prop_assert!(said(e)); }
        if let Err(e) = RedisTarget::parse(&text, None) { prop_assert!(said(e)); }
        if let Err(e) = BucketTarget::parse(&text, None, None, None, None) { prop_assert!(said(e)); }
    }
}
