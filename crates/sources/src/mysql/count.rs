//! Counting the rows of a `mariadb-dump`/`mysqldump` SQL stream while it passes: the
//! per-statement state (which table an `INSERT INTO … VALUES (…),(…);` fills, how many
//! tuples it has, `CREATE TABLE` and `USE`) and the reader that feeds the counter. The
//! byte-level lexer is in `lex`, the reading of statement heads in `head`. One
//! pass, bounded memory.

mod head;
mod lex;

use head::{created_table, insert_target, tokenize, used_database, TableName, Tok};
use lex::{is_space, special_bytes, Lex};
use lifeboat_core::TableCount;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Longest statement start kept for classification; longer heads are not ours
/// (a column list of `--complete-insert` is the longest head we care about).
const HEAD_MAX: usize = 64 * 1024;

/// What the current statement is, as far as counting goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stmt {
    /// Still reading its first words.
    Head,
    /// The tuples of an INSERT into `table`; `depth` counts open parentheses.
    Insert {
        table: String,
        depth: u32,
        rows: u64,
    },
    /// Anything else: skipped up to its delimiter.
    Other,
}

/// The streaming counter. Feed it every byte of the dump in order.
#[derive(Debug)]
pub(crate) struct RowCounter {
    lex: Lex,
    /// The last two code bytes, to recognise `--`, `/*` and `*/` across chunks.
    recent: [u8; 2],
    /// Inside `/*! … */`, whose content is SQL.
    exec_comment: bool,
    stmt: Stmt,
    head: Vec<u8>,
    head_depth: u32,
    delimiter: Vec<u8>,
    /// Bytes of the delimiter matched so far.
    matched: usize,
    line: Vec<u8>,
    /// The database of unqualified table names (`USE` changes it).
    db: Option<String>,
    counts: BTreeMap<String, u64>,
    completed: bool,
    eof: bool,
    /// Code bytes that can change state: quotes, parentheses, comment markers and
    /// the delimiter's bytes.
    special: [bool; 256],
}

/// What the counter learned from the whole stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Rows per `db.table`, sorted by name, tables without rows included.
    pub tables: Vec<TableCount>,
    /// The dump's closing `-- Dump completed` comment was seen.
    pub completed: bool,
    /// The reader reached the end of the stream.
    pub eof: bool,
}

impl RowCounter {
    /// A counter for a dump whose unqualified tables belong to `db` until a `USE`.
    pub(crate) fn new(db: Option<String>) -> Self {
        Self {
            lex: Lex::Code,
            recent: [0; 2],
            exec_comment: false,
            stmt: Stmt::Head,
            head: Vec::new(),
            head_depth: 0,
            delimiter: b";".to_vec(),
            matched: 0,
            line: Vec::new(),
            db,
            counts: BTreeMap::new(),
            completed: false,
            eof: false,
            special: special_bytes(b";"),
        }
    }

    /// Feeds the next bytes of the stream.
    pub(crate) fn feed(&mut self, buf: &[u8]) {
        let mut i = 0;
        while i < buf.len() {
            i += self.skip(&buf[i..]);
            if let Some(&b) = buf.get(i) {
                self.step(b);
                i += 1;
            }
        }
    }

    /// Marks the end of the stream.
    pub(crate) fn end(&mut self) {
        self.eof = true;
    }

    pub(crate) fn counted(&self) -> Counted {
        let tables = self
            .counts
            .iter()
            .map(|(table, rows)| TableCount {
                table: table.clone(),
                rows: *rows,
            })
            .collect();
        Counted {
            tables,
            completed: self.completed,
            eof: self.eof,
        }
    }

    fn statement_byte(&mut self, b: u8) {
        match &mut self.stmt {
            Stmt::Head => self.head_byte(b),
            Stmt::Insert { depth, rows, .. } => match b {
                b'(' => {
                    if *depth == 0 {
                        *rows += 1;
                    }
                    *depth += 1;
                }
                b')' => *depth = depth.saturating_sub(1),
                _ => {}
            },
            Stmt::Other => {}
        }
    }

    fn head_byte(&mut self, b: u8) {
        match b {
            _ if is_space(b) => self.head_space(),
            b'(' if self.head_depth == 0 => self.classify_open(),
            b'(' => {
                self.head_depth += 1;
                self.push_head(b);
            }
            b')' => {
                self.head_depth = self.head_depth.saturating_sub(1);
                self.push_head(b);
            }
            _ => self.push_head(b),
        }
    }

    fn push_head(&mut self, b: u8) {
        if self.stmt != Stmt::Head {
            return;
        }
        if self.head.len() >= HEAD_MAX {
            self.stmt = Stmt::Other;
            self.head.clear();
            return;
        }
        self.head.push(b);
    }

    /// Whitespace and comments separate words: one space in the head.
    fn head_space(&mut self) {
        if self.stmt == Stmt::Head && self.head.last().is_some_and(|&c| c != b' ') {
            self.head.push(b' ');
        }
    }

    fn pop_head(&mut self, n: usize) {
        if self.stmt == Stmt::Head {
            self.head.truncate(self.head.len().saturating_sub(n));
        }
    }

    /// The head reached its first top-level `(`: a table definition, the first
    /// tuple of an INSERT, or an INSERT's column list.
    fn classify_open(&mut self) {
        let words = tokenize(&self.head);
        if let Some(name) = created_table(&words) {
            let key = self.table_key(name);
            self.counts.entry(key).or_insert(0);
            self.stmt = Stmt::Other;
        } else if let Some((name, rest)) = insert_target(&words) {
            match rest.last() {
                Some(Tok::Word(w))
                    if w.eq_ignore_ascii_case("VALUES") || w.eq_ignore_ascii_case("VALUE") =>
                {
                    let table = self.table_key(name);
                    self.stmt = Stmt::Insert {
                        table,
                        depth: 1,
                        rows: 1,
                    };
                }
                None => {
                    self.head_depth = 1;
                    self.head.push(b'(');
                }
                Some(_) => self.stmt = Stmt::Other,
            }
        } else {
            self.stmt = Stmt::Other;
        }
        if self.stmt != Stmt::Head {
            self.head.clear();
        }
    }

    fn end_statement(&mut self) {
        match std::mem::replace(&mut self.stmt, Stmt::Head) {
            Stmt::Insert { table, rows, .. } => *self.counts.entry(table).or_insert(0) += rows,
            Stmt::Head => {
                if let Some(db) = used_database(&tokenize(&self.head)) {
                    self.db = Some(db);
                }
            }
            Stmt::Other => {}
        }
        self.reset_statement();
    }

    fn reset_statement(&mut self) {
        self.stmt = Stmt::Head;
        self.head.clear();
        self.head_depth = 0;
        self.matched = 0;
    }

    fn table_key(&self, name: TableName) -> String {
        match (name.db, &self.db) {
            (Some(db), _) => format!("{db}.{}", name.table),
            (None, Some(db)) => format!("{db}.{}", name.table),
            (None, None) => name.table,
        }
    }
}

/// A reader that feeds everything it passes on to a shared [`RowCounter`].
pub(crate) struct CountingReader<R> {
    inner: R,
    counter: Arc<Mutex<RowCounter>>,
}

impl<R: Read> CountingReader<R> {
    pub(crate) fn new(inner: R, counter: Arc<Mutex<RowCounter>>) -> Self {
        Self { inner, counter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut counter = self
            .counter
            .lock()
            .map_err(|_| io::Error::other("the row counter failed earlier"))?;
        match buf.get(..n) {
            Some([]) | None => counter.end(),
            Some(data) => counter.feed(data),
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn count_chunks(text: &[u8], chunks: impl IntoIterator<Item = usize>) -> Counted {
        let mut counter = RowCounter::new(Some("app".into()));
        let mut rest = text;
        for size in chunks {
            let (now, later) = rest.split_at(size.min(rest.len()));
            counter.feed(now);
            rest = later;
        }
        counter.feed(rest);
        counter.end();
        counter.counted()
    }

    fn count(text: &str) -> Vec<(String, u64)> {
        let whole = count_chunks(text.as_bytes(), []);
        // Every split must give the same answer: byte by byte, and pseudo-random sizes.
        let bytewise = count_chunks(text.as_bytes(), std::iter::repeat_n(1, text.len()));
        assert_eq!(whole, bytewise, "byte by byte differs");
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20 {
            let sizes: Vec<usize> = (0..text.len())
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 17) as usize
                })
                .collect();
            assert_eq!(
                whole,
                count_chunks(text.as_bytes(), sizes),
                "random chunks differ"
            );
        }
        whole
            .tables
            .into_iter()
            .map(|t| (t.table, t.rows))
            .collect()
    }

    fn pairs(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
        expected.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn counts_tuples_of_extended_inserts() {
        let dump = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `s` text\n) ENGINE=InnoDB;\n\
            INSERT INTO `t` VALUES\n(1,'a'),\n(2,'b'),\n(3,NULL);\n\
            INSERT INTO `t` VALUES (4,'x'),(5,'y');\n";
        assert_eq!(count(dump), pairs(&[("app.t", 5)]));
    }

    #[test]
    fn strings_hide_parentheses_quotes_and_delimiters() {
        let dump = "CREATE TABLE `t` (`s` text);\n\
            INSERT INTO `t` VALUES (1,'it\\'s ),( tricky; (yes)'),(2,'doubled '' quote ),('),\
            (3,'backslash at end \\\\'),(4,\"dq ),( \\\" ;\"),(5,'new\\nline\\0\\Z'),(6,0x27292C28);\n";
        assert_eq!(count(dump), pairs(&[("app.t", 6)]));
    }

    #[test]
    fn tables_without_rows_are_listed() {
        let dump = "CREATE TABLE `empty` (\n  `id` int\n);\nCREATE TABLE IF NOT EXISTS `e2` (`id` int);\n\
            LOCK TABLES `empty` WRITE;\n/*!40000 ALTER TABLE `empty` DISABLE KEYS */;\nUNLOCK TABLES;\n";
        assert_eq!(count(dump), pairs(&[("app.e2", 0), ("app.empty", 0)]));
    }

    #[test]
    fn use_switches_database_and_backticks_unescape() {
        let dump = "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\
            USE `a`;\nCREATE TABLE `x` (`id` int);\nINSERT INTO `x` VALUES (1),(2);\n\
            USE `we``ird db`;\nCREATE TABLE `x` (`id` int);\nINSERT INTO `x` VALUES (1);\n\
            CREATE TABLE `ünï` (`id` int);\nINSERT INTO `ünï` VALUES (7);\n\
            USE a;\nINSERT INTO `x` VALUES (3);\n";
        assert_eq!(
            count(dump),
            pairs(&[("a.x", 3), ("we`ird db.x", 1), ("we`ird db.ünï", 1)])
        );
    }

    #[test]
    fn routines_triggers_events_and_views_are_not_data() {
        let dump = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n\
            /*!40101 SET NAMES utf8mb4 */;\n\
            CREATE TABLE `t` (`id` int);\n\
            INSERT INTO `t` VALUES (1);\n\
            DELIMITER ;;\n\
            /*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER trg AFTER INSERT ON t \
            FOR EACH ROW INSERT INTO t VALUES (CONCAT('new ', NEW.id)) \n*/;;\n\
            DELIMITER ;\n\
            /*!50001 CREATE TABLE `v` (\n `id` tinyint NOT NULL\n) ENGINE=MyISAM */;\n\
            /*!50001 CREATE VIEW `v2` AS SELECT\n 1 AS `id` */;\n\
            DELIMITER ;;\n\
            CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\nBEGIN\n\
            -- a comment with ' quote\n# another ' one\n/* and ' a block */\n\
            INSERT INTO t VALUES (2);\nINSERT INTO t VALUES (3),(4);\nEND ;;\n\
            DELIMITER ;\n\
            INSERT INTO `t` VALUES (5),(6);\n\
            -- Dump completed on 2026-11-23  8:37:06\n";
        assert_eq!(count(dump), pairs(&[("app.t", 3)]));
        assert!(count_chunks(dump.as_bytes(), []).completed);
    }

    #[test]
    fn empty_comment_lines_end_at_their_newline() {
        let dump = "--\nCREATE TABLE `t` (`a` int);\n--\nINSERT INTO `t` VALUES (1);\n--\t\n#\nINSERT INTO `t` VALUES (2);\n";
        assert_eq!(count(dump), pairs(&[("app.t", 2)]));
    }

    #[test]
    fn column_lists_and_insert_variants() {
        let dump = "CREATE TABLE `t` (`a` int, `b (x)` text);\n\
            INSERT INTO `t` (`a`, `b (x)`) VALUES (1,'('),(2,')');\n\
            INSERT IGNORE INTO `t` VALUES (3,'a');\n\
            REPLACE INTO `other`.`t` VALUES (4,'b');\n\
            insert into t values(5,'c');\n";
        assert_eq!(count(dump), pairs(&[("app.t", 4), ("other.t", 1)]));
    }

    #[test]
    fn truncated_dumps_are_noticed() {
        let complete =
            "CREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1);\n-- Dump completed on 2026\n";
        assert!(count_chunks(complete.as_bytes(), []).completed);
        let cut = &complete[..40];
        let counted = count_chunks(cut.as_bytes(), []);
        assert!(!counted.completed);
        // An INSERT cut before its delimiter never ran, so its rows do not count.
        let cut = "CREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1),(2";
        assert_eq!(count(cut), pairs(&[("app.t", 0)]));
        // A "Dump completed" inside a string is data, not the trailer.
        let fake =
            "CREATE TABLE `t` (`a` text);\nINSERT INTO `t` VALUES ('\n-- Dump completed on 2026\n";
        assert!(!count_chunks(fake.as_bytes(), []).completed);
    }

    #[test]
    fn counting_reader_passes_bytes_through() {
        let text =
            b"CREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1),(2);\n-- Dump completed\n"
                .to_vec();
        let counter = Arc::new(Mutex::new(RowCounter::new(Some("d".into()))));
        let mut reader = CountingReader::new(io::Cursor::new(text.clone()), counter.clone());
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
        let counted = counter.lock().unwrap().counted();
        assert_eq!(
            counted.tables,
            vec![TableCount {
                table: "d.t".into(),
                rows: 2
            }]
        );
        assert!(counted.completed && counted.eof);
    }

    #[test]
    fn large_dump_counts_fast_enough() {
        let mut dump = String::from("CREATE TABLE `big` (`id` int, `s` text);\n");
        for chunk in 0..200 {
            dump.push_str("INSERT INTO `big` VALUES ");
            let rows: Vec<String> = (0..500)
                .map(|i| format!("({},'row \\'{chunk}\\' ),( {i}')", chunk * 500 + i))
                .collect();
            dump.push_str(&rows.join(","));
            dump.push_str(";\n");
        }
        let counted = count_chunks(
            dump.as_bytes(),
            std::iter::repeat_n(8192, dump.len() / 8192),
        );
        assert_eq!(
            counted.tables,
            vec![TableCount {
                table: "app.big".into(),
                rows: 100_000
            }]
        );
    }
}
