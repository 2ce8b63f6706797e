//! Skills, publish bodies and tar archives, honest and hand-made.

use std::path::{Path, PathBuf};

/// Writes a skill directory `dir/name` and returns its path.
pub fn skill_dir(dir: &Path, name: &str, version: &str, description: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: {description}\nmetadata:\n  version: \"{version}\"\n---\n# {name}\n"),
    )
    .unwrap();
    path
}

/// A publish body (cargo framing) for a skill bundle.
pub fn skill_publish_body(name: &str, version: &str, tarball: &[u8]) -> Vec<u8> {
    let meta = serde_json::json!({"name": name, "vers": version, "kind": "skill", "deps": [], "features": {}});
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), tarball)
}

/// A valid skill tarball (packed by skillreg) for `name@version`.
pub fn skill_tarball(name: &str, version: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = skill_dir(dir.path(), name, version, "A test skill.");
    skillreg::bundle::pack::pack_dir(&path).unwrap()
}

/// Gzips bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A raw tar entry header (ustar), for archives no honest tool would make.
pub fn raw_header(path: &[u8], entry_type: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size_field = format!("{size:011o}");
    h[124..135].copy_from_slice(size_field.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = entry_type;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    let cks = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cks.as_bytes());
    h
}

/// Builds a tar from raw (header, content) pairs, padded, with the end marker.
pub fn raw_tar(entries: &[([u8; 512], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, content) in entries {
        out.extend_from_slice(h);
        out.extend_from_slice(content);
        let pad = (512 - content.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend([0u8; 1024]);
    out
}

/// A regular-file entry.
pub fn file_entry(path: &str, content: &[u8]) -> ([u8; 512], Vec<u8>) {
    (
        raw_header(path.as_bytes(), b'0', content.len() as u64, b""),
        content.to_vec(),
    )
}

/// A valid SKILL.md for `name@version`.
pub fn skill_md(name: &str, version: &str) -> Vec<u8> {
    format!(
        "---\nname: {name}\ndescription: A test skill.\nmetadata:\n  version: \"{version}\"\n---\n"
    )
    .into_bytes()
}

/// The entries of a tar.gz, in order: (path, content).
pub fn tar_entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (path, data)
        })
        .collect()
}
