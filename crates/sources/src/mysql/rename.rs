//! Loading a one-database dump under another name: the dump's own `CREATE DATABASE`,
//! `USE` and `ALTER DATABASE` lines for that database are rewritten on the fly (line
//! by line, bounded memory), and a dump that names any other database is refused, so
//! that a restore never writes to a database the user did not name.
//!
//! `mariadb-dump`/`mysqldump` write these statements each on a line of its own,
//! outside `DELIMITER ;;` blocks (routine bodies are inside them and passed through
//! untouched); table data never spans lines (strings escape their newlines).

use super::conn::quote_ident;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Longest line start examined; the statements we rewrite are far shorter (a quoted
/// 64-character name plus a charset clause).
const LINE_MAX: usize = 4096;

/// Line starts that may need rewriting (or that change where statements end).
const WATCHED: [&[u8]; 4] = [
    b"CREATE DATABASE ",
    b"USE ",
    b"ALTER DATABASE ",
    b"DELIMITER ",
];

/// The first refusal, readable after the stream was fed.
pub type RenameProblem = Arc<Mutex<Option<String>>>;

/// Wraps the client's stdin: database `from` of the dump becomes `to`.
pub struct RenameWriter<W: Write> {
    inner: W,
    from: String,
    to: String,
    /// The start of the current line, while it may still be one of ours.
    line: Vec<u8>,
    /// The current line is not ours: copy bytes up to its newline.
    passing: bool,
    /// Inside a `DELIMITER ;;` block (routine, trigger and event bodies).
    in_block: bool,
    problem: RenameProblem,
}

impl<W: Write> RenameWriter<W> {
    pub fn new(inner: W, from: &str, to: &str) -> (Self, RenameProblem) {
        let problem = RenameProblem::default();
        let writer = Self {
            inner,
            from: from.to_string(),
            to: to.to_string(),
            line: Vec::new(),
            passing: false,
            in_block: false,
            problem: problem.clone(),
        };
        (writer, problem)
    }

    fn refuse(&self, why: String) -> io::Error {
        let mut slot = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        let why = slot.get_or_insert(why).clone();
        io::Error::new(io::ErrorKind::InvalidData, why)
    }

    /// Whether the buffered line start can still be one of the watched statements.
    fn may_be_watched(&self) -> bool {
        WATCHED.iter().any(|w| {
            let n = w.len().min(self.line.len());
            self.line[..n].eq_ignore_ascii_case(&w[..n])
        })
    }

    /// A complete line (without its newline): rewritten when it is ours.
    fn line_done(&mut self) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        let out = self.rewrite(&line)?;
        self.inner.write_all(&out)?;
        self.inner.write_all(b"\n")
    }

    fn rewrite(&mut self, line: &[u8]) -> io::Result<Vec<u8>> {
        let upper = |n: usize| line.get(..n).map(<[u8]>::to_ascii_uppercase);
        if upper(10).as_deref() == Some(b"DELIMITER ") {
            self.in_block = String::from_utf8_lossy(&line[10..]).trim() != ";";
            return Ok(line.to_vec());
        }
        let watched = WATCHED
            .iter()
            .any(|w| upper(w.len()).as_deref() == Some(*w));
        if self.in_block || !watched {
            return Ok(line.to_vec());
        }
        let Some(start) = line.iter().position(|&b| b == b'`') else {
            return Err(self.refuse(format!(
                "unexpected statement in the dump: {}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )));
        };
        let (name, end) = backticked(line, start + 1)
            .ok_or_else(|| self.refuse("unterminated database name in the dump".to_string()))?;
        if name != self.from {
            return Err(self.refuse(format!(
                "the dump holds database `{name}` besides `{}`: a dump of several databases \
                 restores only under their own names (leave the database out of --to)",
                self.from
            )));
        }
        let mut out = line[..start].to_vec();
        out.extend_from_slice(quote_ident(&self.to).as_bytes());
        out.extend_from_slice(&line[end..]);
        Ok(out)
    }

    fn feed(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            if self.passing {
                match memchr::memchr(b'\n', buf) {
                    Some(i) => {
                        self.inner.write_all(&buf[..=i])?;
                        self.passing = false;
                        buf = &buf[i + 1..];
                    }
                    None => return self.inner.write_all(buf),
                }
                continue;
            }
            let b = buf[0];
            buf = &buf[1..];
            if b == b'\n' {
                self.line_done()?;
                continue;
            }
            self.line.push(b);
            if !self.may_be_watched() || self.line.len() > LINE_MAX {
                self.inner.write_all(&self.line)?;
                self.line.clear();
                self.passing = true;
            }
        }
        Ok(())
    }
}

/// The unescaped name of a `` `quoted` `` identifier starting at `from` (after the
/// opening backtick) and the index after its closing backtick.
fn backticked(line: &[u8], from: usize) -> Option<(String, usize)> {
    let mut name = Vec::new();
    let mut i = from;
    loop {
        match (line.get(i), line.get(i + 1)) {
            (Some(b'`'), Some(b'`')) => {
                name.push(b'`');
                i += 2;
            }
            (Some(b'`'), _) => return Some((String::from_utf8_lossy(&name).into_owned(), i + 1)),
            (Some(&b), _) => {
                name.push(b);
                i += 1;
            }
            (None, _) => return None,
        }
    }
}

impl<W: Write> Write for RenameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(why) = self
            .problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        self.feed(buf)?;
        Ok(buf.len())
    }

    /// A last line without a newline is written as it is.
    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() && !self.passing {
            let line = std::mem::take(&mut self.line);
            let out = self.rewrite(&line)?;
            self.inner.write_all(&out)?;
            self.passing = true;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(dump: &str, chunk: usize) -> (String, Option<String>) {
        let (mut w, problem) = RenameWriter::new(Vec::new(), "orig", "co`py");
        let result = dump
            .as_bytes()
            .chunks(chunk)
            .try_for_each(|c| w.write_all(c))
            .and_then(|()| w.flush());
        let out = String::from_utf8(w.inner).unwrap();
        let problem = problem.lock().unwrap().clone();
        assert_eq!(result.is_err(), problem.is_some());
        (out, problem)
    }

    const DUMP: &str = "-- MariaDB dump\n\
        --\n-- Current Database: `orig`\n--\n\n\
        CREATE DATABASE /*!32312 IF NOT EXISTS*/ `orig` /*!40100 DEFAULT CHARACTER SET latin1 COLLATE latin1_swedish_ci */;\n\n\
        USE `orig`;\n\
        CREATE TABLE `t` (`a` int);\n\
        INSERT INTO `t` VALUES (1),(2);\n\
        use_me_not;\n\
        ALTER DATABASE `orig` CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci ;\n\
        DELIMITER ;;\n\
        USE `other`;;\n\
        CREATE DATABASE `x`;;\n\
        DELIMITER ;\n\
        -- Dump completed";

    #[test]
    fn renames_the_dumps_database_in_any_chunking() {
        for chunk in [1, 3, 7, 64, 100_000] {
            let (out, problem) = run(DUMP, chunk);
            assert_eq!(problem, None);
            let want = DUMP
                .replace("IF NOT EXISTS*/ `orig`", "IF NOT EXISTS*/ `co``py`")
                .replace("USE `orig`;", "USE `co``py`;")
                .replace("ALTER DATABASE `orig`", "ALTER DATABASE `co``py`");
            assert_eq!(out, want, "chunk {chunk}");
        }
    }

    #[test]
    fn refuses_another_database() {
        let dump = "USE `orig`;\nINSERT INTO t VALUES (1);\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `second`;\nUSE `second`;\n";
        let (out, problem) = run(dump, 5);
        assert!(problem.unwrap().contains("`second` besides `orig`"));
        assert!(!out.contains("second"), "{out}");
        let (_, problem) = run("USE shop;\n", 100);
        assert!(problem.unwrap().contains("unexpected statement"));
        let (out, problem) = run("USE\nCREATE\n", 100);
        assert_eq!((out.as_str(), problem), ("USE\nCREATE\n", None));
    }

    #[test]
    fn long_lines_pass_untouched() {
        let long = format!(
            "INSERT INTO t VALUES ('{}');\nUSE `orig`;\n",
            "x".repeat(10_000)
        );
        let (out, _) = run(&long, 4096);
        assert_eq!(out, long.replace("USE `orig`", "USE `co``py`"));
    }
}
