//! The database itself as an archive describes it: its DATABASE entry (encoding,
//! locale, template), DATABASE PROPERTIES (`ALTER DATABASE … SET`, connection limit),
//! owner, COMMENT, ACL and SECURITY LABEL. `pg_restore` applies these only with
//! `--create` and only under the original name; here they are rewritten for the name
//! the user chose, so a missing database is created as it was.

use super::archive::{parse_toc, DbEntry, Need};
use super::conn::quote_ident;
use crate::SourceError;
use std::io::{self, Read, Write};

/// What an archive says about the database it was dumped from.
#[derive(Debug, Clone)]
pub struct DatabaseSpec {
    /// The name the archive was dumped from.
    pub original: String,
    /// `pg_encoding_to_char` of the original, e.g. `LATIN1`.
    pub encoding: String,
    /// The original name as the archive's SQL writes it (`fmtId`).
    quoted: Vec<u8>,
    /// The DATABASE statement after the name: ` WITH TEMPLATE = template0 …;`.
    create_options: String,
    owner: String,
    properties: Vec<u8>,
    comments: Vec<u8>,
    labels: Vec<u8>,
    acl: Vec<u8>,
    /// `SET client_encoding …; SET standard_conforming_strings …;`: how to read the rest.
    session: Vec<u8>,
}

fn invalid(why: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid(format!("the archive's DATABASE entry: {why}"))
}

impl DatabaseSpec {
    fn from_entries(entries: &[DbEntry]) -> Result<Self, SourceError> {
        let db = entries
            .iter()
            .find(|e| e.desc == "DATABASE")
            .ok_or_else(|| invalid("missing (was the dump made by pg_dump 11 or newer?)"))?;
        let rest = db
            .defn
            .strip_prefix(b"CREATE DATABASE ")
            .ok_or_else(|| invalid("it is not a CREATE DATABASE statement"))?;
        let name_len = identifier_len(rest);
        let (quoted, options) = rest.split_at(name_len);
        let create_options = String::from_utf8(options.to_vec())
            .map_err(|_| invalid("its options are not UTF-8"))?;
        let all = |desc: &str| -> Vec<u8> {
            entries
                .iter()
                .filter(|e| e.desc == desc)
                .flat_map(|e| e.defn.iter().copied())
                .collect()
        };
        let session = [all("ENCODING"), all("STDSTRINGS")].concat();
        let encoding = setting_value(&all("ENCODING"))
            .ok_or_else(|| SourceError::Invalid("the archive has no ENCODING entry".into()))?;
        Ok(Self {
            original: db.tag.clone(),
            encoding,
            quoted: quoted.to_vec(),
            create_options,
            owner: db.owner.clone(),
            properties: all("DATABASE PROPERTIES"),
            comments: all("COMMENT"),
            labels: all("SECURITY LABEL"),
            acl: all("ACL"),
            session,
        })
    }

    /// Reads the archive's header and TOC from the start of `input`.
    pub fn read(input: &mut dyn Read) -> Result<Self, SourceError> {
        let mut sink = HeadSink::default();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(SourceError::io("reading the archive's table of contents"))?;
            if n == 0 || sink.write(&buf[..n]).is_err() {
                return sink.finish();
            }
        }
    }

    /// `CREATE DATABASE target WITH …` as the archive says.
    pub fn create_sql(&self, target: &str) -> String {
        let options = self.create_options.trim_end();
        let options = options.strip_suffix(';').unwrap_or(options);
        format!("CREATE DATABASE {}{options}", quote_ident(target))
    }

    /// What follows the creation, for `target`: owner, properties, comment, security
    /// labels and privileges (owner and privileges left out with `no_owner`), in the
    /// archive's client encoding. Empty when there is nothing to apply.
    pub fn settings_sql(&self, target: &str, no_owner: bool) -> Vec<u8> {
        let to = quote_ident(target).into_bytes();
        let mut body = Vec::new();
        if !no_owner && !self.owner.is_empty() {
            body.extend(
                format!(
                    "ALTER DATABASE {} OWNER TO {};\n",
                    quote_ident(target),
                    quote_ident(&self.owner)
                )
                .into_bytes(),
            );
        }
        let mut parts = vec![&self.properties, &self.comments, &self.labels];
        if !no_owner {
            parts.push(&self.acl);
        }
        for part in parts {
            body.extend(rename_database(part, &self.quoted, &to));
            body.push(b'\n');
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Vec::new();
        }
        [self.session.clone(), body].concat()
    }
}

/// Bytes of the SQL identifier at the start of `sql`: `"…"` with `""` escapes, or a
/// bare word up to a space or `;`.
fn identifier_len(sql: &[u8]) -> usize {
    if sql.first() != Some(&b'"') {
        return sql
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b';')
            .unwrap_or(sql.len());
    }
    let mut i = 1;
    while i < sql.len() {
        if sql[i] == b'"' {
            if sql.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    sql.len()
}

/// The quoted value of `SET name = 'value';`.
fn setting_value(sql: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(sql);
    let start = text.find('\'')? + 1;
    let end = start + text[start..].find('\'')?;
    Some(text[start..end].to_string())
}

/// Replaces `DATABASE <from>` (a whole word, outside string literals and other quoted
/// identifiers) with `DATABASE <to>` in `sql`.
pub(crate) fn rename_database(sql: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let needle = [b"DATABASE ".as_slice(), from].concat();
    let mut out = Vec::with_capacity(sql.len());
    let mut i = 0;
    while i < sql.len() {
        let at_word = i == 0 || !(sql[i - 1].is_ascii_alphanumeric() || sql[i - 1] == b'_');
        let ends = |j: usize| {
            sql.get(j)
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b';')
        };
        if at_word && sql[i..].starts_with(&needle) && ends(i + needle.len()) {
            out.extend_from_slice(b"DATABASE ");
            out.extend_from_slice(to);
            i += needle.len();
            continue;
        }
        let skip = match sql[i] {
            b'\'' => literal_len(sql, i),
            b'"' => identifier_len(&sql[i..]),
            _ => 1,
        };
        out.extend_from_slice(&sql[i..i + skip]);
        i += skip;
    }
    out
}

/// Bytes of the string literal starting at `start` (a `'`): `''` escapes, and
/// backslash escapes too when it is an `E'…'` literal.
fn literal_len(sql: &[u8], start: usize) -> usize {
    let backslashes = start > 0 && matches!(sql[start - 1], b'E' | b'e');
    let mut i = start + 1;
    while i < sql.len() {
        match sql[i] {
            b'\\' if backslashes => i += 2,
            b'\'' if sql.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1 - start,
            _ => i += 1,
        }
    }
    sql.len() - start
}

/// Collects the start of an archive until its header and TOC parse; then refuses more
/// bytes (a write error), so a stream feeding it can stop early.
#[derive(Default)]
pub struct HeadSink {
    buf: Vec<u8>,
    retry_at: usize,
    done: Option<Result<DatabaseSpec, SourceError>>,
}

impl HeadSink {
    fn attempt(&mut self) {
        match parse_toc(&self.buf, true) {
            Ok((toc, _)) => self.done = Some(DatabaseSpec::from_entries(&toc.database)),
            Err(Need::Invalid(why)) => {
                self.done = Some(Err(SourceError::Invalid(format!(
                    "reading the archive's table of contents: {why}"
                ))))
            }
            Err(Need::More) => self.retry_at = self.buf.len().saturating_mul(2),
        }
    }

    /// Whether the header and TOC have been read (or found unreadable).
    pub fn complete(&self) -> bool {
        self.done.is_some()
    }

    /// What the TOC says; an error if the archive ended before its TOC did.
    pub fn finish(mut self) -> Result<DatabaseSpec, SourceError> {
        if self.done.is_none() {
            self.attempt();
        }
        self.done.unwrap_or_else(|| {
            Err(SourceError::Invalid(
                "the archive ends inside its table of contents".into(),
            ))
        })
    }
}

impl Write for HeadSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.done.is_some() {
            return Err(io::Error::other("table of contents complete"));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.retry_at {
            self.attempt();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::{int, string, with_entries};
    use super::*;

    fn entry(id: i64, tag: &str, desc: &str, defn: &[u8], owner: &str) -> Vec<u8> {
        let mut e = [
            int(id),
            int(1),
            string(Some("0")),
            string(Some("0")),
            string(Some(tag)),
            string(Some(desc)),
            int(2),
        ]
        .concat();
        e.extend(int(defn.len() as i64));
        e.extend(defn);
        for s in ["", "", "", "", "heap", owner, "false"] {
            e.extend(string(Some(s)));
        }
        e.extend(string(None));
        e.extend([1u8; 9]);
        e
    }

    fn spec(name_sql: &str, tag: &str) -> DatabaseSpec {
        let comment =
            format!("COMMENT ON DATABASE {name_sql} IS 'caf\u{e9} DATABASE {name_sql} ';\n");
        let mut comment = comment.into_bytes();
        comment.push(0xe9); // a LATIN1 byte, kept as it is
        let archive = with_entries(&[
            entry(1, "ENCODING", "ENCODING", b"SET client_encoding = 'LATIN1';\n", ""),
            entry(2, "STDSTRINGS", "STDSTRINGS", b"SET standard_conforming_strings = 'on';\n", ""),
            entry(
                3,
                tag,
                "DATABASE",
                format!("CREATE DATABASE {name_sql} WITH TEMPLATE = template0 ENCODING = 'LATIN1' LOCALE = 'C';\n").as_bytes(),
                "alice",
            ),
            entry(4, &format!("DATABASE {name_sql}"), "COMMENT", &comment, "alice"),
            entry(
                5,
                tag,
                "DATABASE PROPERTIES",
                format!("ALTER DATABASE {name_sql} SET work_mem TO '8MB';\nALTER ROLE bob IN DATABASE {name_sql} SET search_path TO 'DATABASE {name_sql}';\n").as_bytes(),
                "alice",
            ),
            entry(6, &format!("DATABASE {name_sql}"), "ACL", format!("GRANT CONNECT ON DATABASE {name_sql} TO \"DATABASE {name_sql}\";\n").as_bytes(), "alice"),
        ]);
        let mut sink = HeadSink::default();
        for chunk in archive.chunks(7) {
            if sink.write(chunk).is_err() {
                break;
            }
        }
        sink.finish().unwrap()
    }

    #[test]
    fn creates_under_the_new_name_with_the_archives_options() {
        for (sql, tag) in [("shop", "shop"), ("\"My \"\"Shop\"\"\"", "My \"Shop\"")] {
            let s = spec(sql, tag);
            assert_eq!(s.original, tag);
            assert_eq!(s.encoding, "LATIN1");
            assert_eq!(
                s.create_sql("copy"),
                "CREATE DATABASE \"copy\" WITH TEMPLATE = template0 ENCODING = 'LATIN1' LOCALE = 'C'"
            );
            let text = s.settings_sql("co\"py", false);
            let text = String::from_utf8_lossy(&text);
            assert!(text.starts_with("SET client_encoding = 'LATIN1';\nSET standard_conforming_strings = 'on';\nALTER DATABASE \"co\"\"py\" OWNER TO \"alice\";\n"), "{text}");
            assert!(
                text.contains("ALTER DATABASE \"co\"\"py\" SET work_mem TO '8MB';"),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "ALTER ROLE bob IN DATABASE \"co\"\"py\" SET search_path TO 'DATABASE {sql}';"
                )),
                "literals stay: {text}"
            );
            assert!(
                text.contains(&format!(
                    "COMMENT ON DATABASE \"co\"\"py\" IS 'caf\u{e9} DATABASE {sql} ';"
                )),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "GRANT CONNECT ON DATABASE \"co\"\"py\" TO \"DATABASE {sql}\";"
                )),
                "quoted role stays: {text}"
            );
            let raw = s.settings_sql("x", false);
            assert!(
                raw.windows(2).any(|w| w == [b'\n', 0xe9]),
                "bytes kept as they are"
            );
            let bare = String::from_utf8_lossy(&s.settings_sql("x", true)).into_owned();
            assert!(!bare.contains("OWNER") && !bare.contains("GRANT"), "{bare}");
        }
    }

    #[test]
    fn an_archive_cut_inside_its_toc_is_an_error() {
        let archive = with_entries(&[]);
        let mut sink = HeadSink::default();
        sink.write_all(&archive[..20]).unwrap();
        assert!(sink.finish().is_err());
    }
}
