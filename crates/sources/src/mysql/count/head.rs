//! Reading the start of a statement as words: which table a `CREATE TABLE` defines,
//! which table an `INSERT`/`REPLACE` fills, which database a `USE` selects.

use super::lex::is_space;

/// A word of a statement head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// An unquoted word (keyword or identifier).
    Word(String),
    /// A `` `quoted` `` identifier, unescaped.
    Ident(String),
    /// A string literal (content not kept).
    Str,
    Punct(u8),
}

impl Tok {
    fn is_word(&self, keyword: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn name(&self) -> Option<String> {
        match self {
            Tok::Word(w) | Tok::Ident(w) => Some(w.clone()),
            _ => None,
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

pub(super) fn tokenize(head: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = head.get(i) {
        if b == b'`' {
            let (name, next) = backticked(head, i + 1);
            toks.push(Tok::Ident(name));
            i = next;
        } else if b == b'\'' || b == b'"' {
            i = skip_string(head, i + 1, b);
            toks.push(Tok::Str);
        } else if is_word_byte(b) {
            let start = i;
            while head.get(i).is_some_and(|&c| is_word_byte(c)) {
                i += 1;
            }
            toks.push(Tok::Word(
                String::from_utf8_lossy(&head[start..i]).into_owned(),
            ));
        } else {
            if !is_space(b) {
                toks.push(Tok::Punct(b));
            }
            i += 1;
        }
    }
    toks
}

/// Reads a backticked identifier starting after its opening quote (``` `` ``` is one
/// backtick); returns it and the index after the closing quote.
fn backticked(head: &[u8], mut i: usize) -> (String, usize) {
    let mut name = Vec::new();
    while let Some(&b) = head.get(i) {
        if b == b'`' {
            if head.get(i + 1) == Some(&b'`') {
                name.push(b'`');
                i += 2;
                continue;
            }
            return (String::from_utf8_lossy(&name).into_owned(), i + 1);
        }
        name.push(b);
        i += 1;
    }
    (String::from_utf8_lossy(&name).into_owned(), i)
}

fn skip_string(head: &[u8], mut i: usize, quote: u8) -> usize {
    while let Some(&b) = head.get(i) {
        i += if b == b'\\' { 2 } else { 1 };
        if b == quote {
            break;
        }
    }
    i
}

/// `table` or `db.table` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TableName {
    pub(super) db: Option<String>,
    pub(super) table: String,
}

/// Reads a possibly qualified name at the start of `toks`; returns it and the rest.
fn table_name(toks: &[Tok]) -> Option<(TableName, &[Tok])> {
    let first = toks.first()?.name()?;
    match (toks.get(1), toks.get(2).and_then(Tok::name)) {
        (Some(Tok::Punct(b'.')), Some(table)) => Some((
            TableName {
                db: Some(first),
                table,
            },
            &toks[3..],
        )),
        _ => Some((
            TableName {
                db: None,
                table: first,
            },
            &toks[1..],
        )),
    }
}

/// Skips the keywords in `optional` at the start of `toks`, in any number.
fn skip_words<'a>(mut toks: &'a [Tok], optional: &[&str]) -> &'a [Tok] {
    while toks
        .first()
        .is_some_and(|t| optional.iter().any(|k| t.is_word(k)))
    {
        toks = &toks[1..];
    }
    toks
}

/// `CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] name` and nothing after.
pub(super) fn created_table(toks: &[Tok]) -> Option<TableName> {
    if !toks.first()?.is_word("CREATE") {
        return None;
    }
    let rest = skip_words(&toks[1..], &["OR", "REPLACE", "TEMPORARY"]);
    if !rest.first()?.is_word("TABLE") {
        return None;
    }
    let rest = skip_words(&rest[1..], &["IF", "NOT", "EXISTS"]);
    let (name, after) = table_name(rest)?;
    after.is_empty().then_some(name)
}

/// `INSERT|REPLACE [modifiers] [INTO] name rest…`.
pub(super) fn insert_target(toks: &[Tok]) -> Option<(TableName, &[Tok])> {
    let first = toks.first()?;
    if !first.is_word("INSERT") && !first.is_word("REPLACE") {
        return None;
    }
    let rest = skip_words(
        &toks[1..],
        &["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"],
    );
    let rest = if rest.first()?.is_word("INTO") {
        &rest[1..]
    } else {
        rest
    };
    table_name(rest)
}

/// `USE db`.
pub(super) fn used_database(toks: &[Tok]) -> Option<String> {
    match toks {
        [first, name, ..] if first.is_word("USE") => name.name(),
        _ => None,
    }
}
