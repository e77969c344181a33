//! Reading PostgreSQL's binary `COPY … TO STDOUT` format, for the register's
//! whole-table reads ([`super::postgres`]'s `scan`).
//!
//! Why not rows through sqlx: each row of the extended protocol costs about
//! 1 µs in sqlx (a `PgRow` with its own buffer and column metadata), 2 s for a
//! register of 2,000,000 addresses, which was the whole of the start-up build's
//! budget. A binary `COPY` sends the same values in one stream of tuples that
//! are read in place here, a few slices per row.
//!
//! The format (<https://www.postgresql.org/docs/current/sql-copy.html>, "Binary
//! Format"): an 11-byte signature, a 32-bit flags field and a header extension
//! of a given length; then per tuple a 16-bit field count (-1 ends the data)
//! and per field a 32-bit length (-1: NULL) followed by that many bytes, each
//! value in its type's binary send format: integers and floats big-endian,
//! booleans one byte, text as UTF-8.

use super::rows::Scanned;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The most fields a tuple may have here (the widest scan reads nine).
const MAX_FIELDS: usize = 16;

/// A binary `COPY` stream being read: feed it chunks as they arrive and it
/// calls `visit` for every complete tuple.
#[derive(Default)]
pub(super) struct CopyReader {
    buf: Vec<u8>,
    header_read: bool,
    ended: bool,
}

/// Something wrong in the stream (a server speaking another format).
#[derive(Debug, PartialEq)]
pub(super) struct BadCopy(pub &'static str);

impl std::fmt::Display for BadCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected binary COPY data: {}", self.0)
    }
}

impl CopyReader {
    /// Reads what `chunk` completes; a partial tuple waits for the next chunk.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        visit: &mut dyn FnMut(&dyn Scanned),
    ) -> Result<(), BadCopy> {
        self.buf.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_read {
            let Some(n) = header_len(&self.buf)? else {
                return Ok(());
            };
            at = n;
            self.header_read = true;
        }
        while !self.ended {
            match tuple(&self.buf[at..])? {
                Some(Tuple::End) => {
                    self.ended = true;
                    at += 2;
                }
                Some(Tuple::Row { len, row }) => {
                    visit(&row);
                    at += len;
                }
                None => break,
            }
        }
        self.buf.drain(..at);
        Ok(())
    }

    /// Checks that the stream ended where the format says it does.
    pub fn finish(&self) -> Result<(), BadCopy> {
        match (self.ended, self.buf.is_empty()) {
            (true, true) => Ok(()),
            (false, _) => Err(BadCopy("the stream stopped inside the data")),
            (true, false) => Err(BadCopy("bytes after the trailer")),
        }
    }
}

/// The header's length, once all of it is there.
fn header_len(buf: &[u8]) -> Result<Option<usize>, BadCopy> {
    if buf.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(BadCopy("no PGCOPY signature"));
    }
    let ext = be_u32(&buf[SIGNATURE.len() + 4..]) as usize;
    let n = SIGNATURE.len() + 8 + ext;
    Ok((buf.len() >= n).then_some(n))
}

enum Tuple<'a> {
    Row { len: usize, row: Row<'a> },
    End,
}

/// The tuple at the start of `buf`, once all of it is there.
fn tuple(buf: &[u8]) -> Result<Option<Tuple<'_>>, BadCopy> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let count = i16::from_be_bytes([buf[0], buf[1]]);
    if count == -1 {
        return Ok(Some(Tuple::End));
    }
    let count = usize::try_from(count).map_err(|_| BadCopy("a negative field count"))?;
    if count > MAX_FIELDS {
        return Err(BadCopy("more fields than a scan reads"));
    }
    let mut fields = [NULL; MAX_FIELDS];
    let mut at = 2;
    for field in fields.iter_mut().take(count) {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"));
        at += 4;
        if len >= 0 {
            if buf.len() < at + len as usize {
                return Ok(None);
            }
            *field = (at as u32, len);
            at += len as usize;
        }
    }
    Ok(Some(Tuple::Row {
        len: at,
        row: Row { buf, fields },
    }))
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

/// One tuple, read in place. A NULL reads as zero, false or "" (the scans
/// select no nullable column but test `IS NOT NULL` instead).
struct Row<'a> {
    buf: &'a [u8],
    /// Each field's offset in `buf` and length, [`NULL`] for a NULL (a
    /// tuple is far smaller than 4 GiB).
    fields: [(u32, i32); MAX_FIELDS],
}

const NULL: (u32, i32) = (0, -1);

impl Row<'_> {
    fn bytes(&self, i: usize) -> &[u8] {
        match self.fields.get(i) {
            Some(&(at, len)) if len >= 0 => &self.buf[at as usize..at as usize + len as usize],
            _ => &[],
        }
    }
}

impl Scanned for Row<'_> {
    /// `smallint`, `integer` or `bigint`, by the value's width.
    fn int(&self, i: usize) -> i64 {
        match *self.bytes(i) {
            [a, b] => i64::from(i16::from_be_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => 0,
        }
    }

    /// `real` or `double precision`, by the value's width.
    fn float(&self, i: usize) -> f64 {
        match *self.bytes(i) {
            [a, b, c, d] => f64::from(f32::from_be_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => f64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => 0.0,
        }
    }

    fn text(&self, i: usize) -> &str {
        // The server sends text in the connection's encoding, which sqlx sets
        // to UTF-8.
        std::str::from_utf8(self.bytes(i)).unwrap_or("")
    }

    fn flag(&self, i: usize) -> bool {
        self.bytes(i) == [1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream as PostgreSQL writes it: header, tuples, trailer.
    fn stream(tuples: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0u32.to_be_bytes());
        out.extend(4u32.to_be_bytes());
        out.extend(b"ext!");
        for t in tuples {
            out.extend((t.len() as i16).to_be_bytes());
            for f in t {
                match f {
                    Some(v) => {
                        out.extend((v.len() as i32).to_be_bytes());
                        out.extend(v);
                    }
                    None => out.extend((-1i32).to_be_bytes()),
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn rows() -> Vec<Vec<Option<Vec<u8>>>> {
        vec![
            vec![
                Some(7i64.to_be_bytes().to_vec()),
                Some("Fő utca".as_bytes().to_vec()),
                Some(19.0402f64.to_be_bytes().to_vec()),
                Some(vec![1]),
                Some(3i16.to_be_bytes().to_vec()),
            ],
            vec![
                Some((-2i32).to_be_bytes().to_vec()),
                None,
                Some(1.5f32.to_be_bytes().to_vec()),
                Some(vec![0]),
                None,
            ],
        ]
    }

    type Read = (i64, String, f64, bool, i64);

    fn read(data: &[u8], chunk: usize) -> Result<Vec<Read>, BadCopy> {
        let mut reader = CopyReader::default();
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            reader.feed(piece, &mut |r| {
                out.push((
                    r.int(0),
                    r.text(1).to_string(),
                    r.float(2),
                    r.flag(3),
                    r.int(4),
                ))
            })?;
        }
        reader.finish()?;
        Ok(out)
    }

    #[test]
    fn tuples_read_alike_however_the_stream_is_cut() {
        let data = stream(&rows());
        let want = vec![
            (7, "Fő utca".to_string(), 19.0402, true, 3),
            (-2, String::new(), 1.5, false, 0),
        ];
        for chunk in [1, 2, 3, 7, 19, data.len()] {
            assert_eq!(read(&data, chunk).unwrap(), want, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_stream_cut_short_or_foreign_is_an_error() {
        let data = stream(&rows());
        assert_eq!(
            read(&data[..data.len() - 1], 5),
            Err(BadCopy("the stream stopped inside the data"))
        );
        let mut text = b"7\tFo utca\n".to_vec();
        text.resize(40, b' ');
        assert_eq!(read(&text, 40), Err(BadCopy("no PGCOPY signature")));
        let mut extra = data.clone();
        extra.push(0);
        assert_eq!(read(&extra, 9), Err(BadCopy("bytes after the trailer")));
    }
}
