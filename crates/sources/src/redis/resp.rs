//! RESP2, the Redis wire protocol: encoding commands and decoding replies, binary-safe
//! (keys and `DUMP` payloads are arbitrary bytes).

use std::io::{self, BufRead, Read, Write};

/// Longest status, error or length line accepted; real ones are far shorter, and a cap
/// keeps a confused peer from making us buffer without end.
const MAX_LINE: u64 = 64 * 1024;

/// One reply. Server errors are values here: the caller decides whether they are fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
}

impl Value {
    /// The bytes of a bulk or status reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Status(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// A bulk or status reply as text (lossy).
    pub fn as_text(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn into_array(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Writes one command as a RESP array of bulk strings.
pub fn write_command(out: &mut impl Write, args: &[&[u8]]) -> io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for arg in args {
        write!(out, "${}\r\n", arg.len())?;
        out.write_all(arg)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one line and strips its `\r\n`.
pub fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("malformed reply line"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

pub fn parse_int(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("malformed number in reply"))
}

/// Reads one complete reply (arrays recursively).
pub fn read_value(r: &mut impl BufRead) -> io::Result<Value> {
    let line = read_line(r)?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(bad("empty reply line"));
    };
    let text = || String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Value::Status(text())),
        b'-' => Ok(Value::Error(text())),
        b':' => parse_int(rest).map(Value::Int),
        b'$' => match u64::try_from(parse_int(rest)?) {
            Ok(len) => read_bulk(r, len).map(Value::Bulk),
            Err(_) => Ok(Value::Nil),
        },
        b'*' => match usize::try_from(parse_int(rest)?) {
            // The capacity is capped: the length comes from the peer.
            Ok(n) => {
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(read_value(r)?);
                }
                Ok(Value::Array(items))
            }
            Err(_) => Ok(Value::Nil),
        },
        other => Err(bad(format!(
            "unexpected reply type {:?}",
            char::from(other)
        ))),
    }
}

/// A bulk string's `len` bytes and the `\r\n` after them. Reading through `take`
/// grows the buffer as bytes arrive instead of trusting the announced length.
fn read_bulk(r: &mut impl BufRead, len: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    r.by_ref().take(len).read_to_end(&mut data)?;
    if (data.len() as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the middle of a reply",
        ));
    }
    let mut crlf = [0u8; 2];
    r.read_exact(&mut crlf)?;
    if &crlf != b"\r\n" {
        return Err(bad("bulk reply not terminated by CRLF"));
    }
    Ok(data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Value> {
        read_value(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn encodes_commands_binary_safe() {
        let mut out = Vec::new();
        write_command(&mut out, &[b"SET", b"k\r\n", b""]).unwrap();
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
    }

    #[test]
    fn decodes_every_reply_type() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Value::Status("OK".into()));
        assert_eq!(
            parse(b"-ERR nope\r\n").unwrap(),
            Value::Error("ERR nope".into())
        );
        assert_eq!(parse(b":-2\r\n").unwrap(), Value::Int(-2));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Value::Nil);
        assert_eq!(parse(b"*-1\r\n").unwrap(), Value::Nil);
        assert_eq!(
            parse(b"$4\r\na\r\nb\r\n").unwrap(),
            Value::Bulk(b"a\r\nb".to_vec())
        );
        assert_eq!(
            parse(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n").unwrap(),
            Value::Array(vec![
                Value::Bulk(b"0".to_vec()),
                Value::Array(vec![Value::Bulk(b"k".to_vec())])
            ])
        );
    }

    #[test]
    fn rejects_truncated_and_malformed_replies() {
        assert!(parse(b"").is_err());
        assert!(parse(b"$10\r\nabc").is_err());
        assert!(parse(b"$3\r\nabcXY").is_err());
        assert!(parse(b"+OK\n").is_err());
        assert!(parse(b"?what\r\n").is_err());
        assert!(parse(b":12a\r\n").is_err());
    }
}
