//! An S3 endpoint that lies about a listing: every `ListObjectsV2` page
//! holds the same key many times and says more follow, with the same
//! continuation token, forever (a broken or hostile S3-compatible store).

use std::io::{Read, Write};

/// The endpoint, on 127.0.0.1; stops when the test process ends.
pub struct LyingS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl LyingS3 {
    /// Answers every request with a page of `per_page` copies of `key`.
    pub fn endless_listing(key: &str, per_page: usize) -> LyingS3 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let entry = format!(
            "<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
             <ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag><Size>0</Size></Contents>"
        );
        let page = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken>{}\
             </ListBucketResult>",
            entry.repeat(per_page)
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let page = page.clone();
                std::thread::spawn(move || answer(&mut stream, page.as_bytes()));
            }
        });
        LyingS3 { endpoint }
    }
}

/// Answers each request on the connection (keep-alive) with `page`.
fn answer(stream: &mut std::net::TcpStream, page: &[u8]) {
    let mut buf = [0u8; 8192];
    let mut head = Vec::new();
    loop {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        head.clear();
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            page.len()
        );
        if stream.write_all(reply.as_bytes()).is_err() || stream.write_all(page).is_err() {
            return;
        }
    }
}
