//! The byte-level lexer of the row counter: splits a dump into statements the way the
//! `mysql` client does (quotes, backslash escapes, comments, executable comments,
//! `DELIMITER`), with fast paths over string data and tuple values.

use super::{RowCounter, Stmt};

/// Bytes kept of a `DELIMITER` line or of a `--` comment.
const LINE_MAX: usize = 256;

/// Where the lexer is within the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lex {
    /// SQL outside strings and comments.
    Code,
    /// Inside `'…'`, `"…"` or `` `…` `` (the byte is the quote).
    Quoted(u8),
    /// Right after a backslash inside `'…'` or `"…"`.
    Escaped(u8),
    /// `-- …` or `# …` up to the end of the line.
    LineComment,
    /// After `/*`: `!` makes it an executable comment, anything else a plain one.
    CommentOpen,
    /// After `/*M` (MariaDB's `/*M!…*/`).
    CommentOpenM,
    /// The version digits after `/*!`.
    ExecVersion,
    /// Inside a plain `/* … */`; `star` when the last byte was `*`.
    Block { star: bool },
    /// The rest of a `DELIMITER` command line.
    DelimiterLine,
}

impl RowCounter {
    /// Fast paths for the bulk of a dump, where no byte needs keeping: string data
    /// up to its next quote or backslash, and code (an INSERT's numbers and hex) up
    /// to the next byte that can change anything. Returns how many bytes to skip.
    pub(super) fn skip(&mut self, buf: &[u8]) -> usize {
        if matches!(self.stmt, Stmt::Head) {
            return 0;
        }
        match self.lex {
            Lex::Quoted(q) => {
                let special = |b: &u8| *b == q || (*b == b'\\' && q != b'`');
                buf.iter().position(special).unwrap_or(buf.len())
            }
            // Not amid a delimiter, and not after a `-`: whitespace there may start a comment.
            Lex::Code if self.matched == 0 && self.recent[1] != b'-' => {
                let n = buf
                    .iter()
                    .position(|b| self.special[usize::from(*b)])
                    .unwrap_or(buf.len());
                if n > 0 {
                    // The skipped bytes are none of `-`, `/`, `*`: no comment marker spans them.
                    self.recent = [0; 2];
                }
                n
            }
            _ => 0,
        }
    }

    pub(super) fn step(&mut self, b: u8) {
        match self.lex {
            Lex::Code => self.code(b),
            Lex::Quoted(q) => self.quoted(q, b),
            Lex::Escaped(q) => {
                self.lex = Lex::Quoted(q);
                self.push_head(b);
            }
            Lex::LineComment => self.line_comment(b),
            Lex::CommentOpen => self.comment_open(b, true),
            Lex::CommentOpenM => self.comment_open(b, false),
            Lex::ExecVersion if b.is_ascii_digit() => {}
            Lex::ExecVersion => {
                self.lex = Lex::Code;
                self.code(b);
            }
            Lex::Block { star } => {
                if star && b == b'/' {
                    self.enter_code();
                    self.head_space();
                } else {
                    self.lex = Lex::Block { star: b == b'*' };
                }
            }
            Lex::DelimiterLine => self.delimiter_line(b),
        }
    }

    fn enter_code(&mut self) {
        self.lex = Lex::Code;
        self.recent = [0; 2];
    }

    /// Leaves code for a string or comment: delimiter bytes seen so far were not one.
    fn leave_code(&mut self, lex: Lex) {
        self.lex = lex;
        self.recent = [0; 2];
        self.matched = 0;
    }

    fn code(&mut self, b: u8) {
        if self.stmt == Stmt::Head
            && (b == b' ' || b == b'\t')
            && self.head.eq_ignore_ascii_case(b"DELIMITER")
        {
            self.line.clear();
            self.leave_code(Lex::DelimiterLine);
            return;
        }
        let [before, last] = self.recent;
        match b {
            b'\'' | b'"' | b'`' => {
                self.leave_code(Lex::Quoted(b));
                self.push_head(b);
            }
            b'#' => self.start_line_comment(),
            _ if is_space(b) && before == b'-' && last == b'-' => {
                self.pop_head(2);
                self.start_line_comment();
                // `--` right before the newline: the comment is already over.
                if b == b'\n' {
                    self.line_comment(b);
                }
            }
            b'*' if last == b'/' => {
                self.pop_head(1);
                self.leave_code(Lex::CommentOpen);
            }
            b'/' if last == b'*' && self.exec_comment => {
                self.exec_comment = false;
                self.pop_head(1);
                self.head_space();
                self.recent = [0; 2];
            }
            _ => {
                self.recent = [last, b];
                if self.delimiter_byte(b) {
                    self.end_statement();
                } else {
                    self.statement_byte(b);
                }
            }
        }
    }

    /// Advances the delimiter match; true when `b` completes the delimiter.
    fn delimiter_byte(&mut self, b: u8) -> bool {
        if self.delimiter.get(self.matched) == Some(&b) {
            self.matched += 1;
        } else {
            self.matched = usize::from(self.delimiter.first() == Some(&b));
        }
        if self.matched == self.delimiter.len() {
            self.matched = 0;
            return true;
        }
        false
    }

    fn start_line_comment(&mut self) {
        self.line.clear();
        self.leave_code(Lex::LineComment);
    }

    fn quoted(&mut self, q: u8, b: u8) {
        if b == b'\\' && q != b'`' {
            self.lex = Lex::Escaped(q);
        } else if b == q {
            self.enter_code();
        }
        self.push_head(b);
    }

    fn line_comment(&mut self, b: u8) {
        if b == b'\n' {
            if self.line.starts_with(b"Dump completed") {
                self.completed = true;
            }
            self.enter_code();
            self.head_space();
        } else if self.line.len() < LINE_MAX {
            self.line.push(b);
        }
    }

    fn comment_open(&mut self, b: u8, m_allowed: bool) {
        match b {
            b'!' => {
                self.exec_comment = true;
                // Statements that begin inside `/*! … */` (view stand-ins, SET …) are
                // never table data.
                if self.stmt == Stmt::Head && self.head.is_empty() {
                    self.stmt = Stmt::Other;
                }
                self.lex = Lex::ExecVersion;
            }
            b'M' if m_allowed => self.lex = Lex::CommentOpenM,
            _ => self.lex = Lex::Block { star: b == b'*' },
        }
    }

    fn delimiter_line(&mut self, b: u8) {
        if b != b'\n' {
            if self.line.len() < LINE_MAX {
                self.line.push(b);
            }
            return;
        }
        let text = String::from_utf8_lossy(&self.line).into_owned();
        if let Some(word) = text.split_whitespace().next() {
            self.delimiter = word.as_bytes().to_vec();
            self.special = special_bytes(&self.delimiter);
        }
        self.enter_code();
        self.reset_statement();
    }
}

pub(super) fn special_bytes(delimiter: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    for &b in b"'\"`()#-/*".iter().chain(delimiter) {
        table[usize::from(b)] = true;
    }
    table
}

pub(super) fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b < 0x20
}
