//! Gzip of prepared files, with one deflate state per thread.
//!
//! A fresh deflate state at the best level allocates about 200 KB of zeroed
//! hash tables; made for every index file, that was a third of a restart's
//! time (page faults and the allocator handing the pages back). The state
//! is reset between files instead, which keeps its buffers. The stream is
//! byte-for-byte what `flate2::write::GzEncoder` writes at
//! `Compression::best()` (header `1f 8b 08 00`, mtime 0, XFL 2, OS 255).

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip header for a stream with no name, no mtime and the best level.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];

thread_local! {
    /// A raw deflate state (no zlib header: gzip frames it), reset per use.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::best(), false));
}

/// `body` gzipped at the best level.
pub fn best(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER.len() + body.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        loop {
            let consumed = deflate.total_in() as usize;
            out.reserve(body.len() - consumed + 64);
            let status = deflate
                .compress_vec(&body[consumed..], &mut out, FlushCompress::Finish)
                .expect("deflating a slice into a Vec cannot fail");
            if status == Status::StreamEnd {
                break;
            }
        }
    });
    let mut crc = Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the length modulo 2^32 (RFC 1952).
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    /// The reference: what `Prepared` wrote before, a new encoder per file.
    fn encoder(body: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(body).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn same_bytes_as_a_fresh_encoder_and_they_decode() {
        let long: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let cases: [&[u8]; 5] = [
            b"",
            b"a",
            b"{\"name\":\"x\",\"vers\":\"1.0.0\"}\n",
            &long,
            b"again",
        ];
        for body in cases {
            let ours = super::best(body);
            assert_eq!(ours, encoder(body), "{} bytes", body.len());
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&ours[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, body);
        }
    }
}
