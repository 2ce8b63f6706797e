//! Content: patterns in text files, binaries and nested archives.

use super::*;

impl Eval<'_> {
    // ---- file contents -----------------------------------------------------

    pub(super) fn contents(&mut self) {
        let mut patterns = Vec::new();
        for p in &self.policy.content_patterns {
            match compiled(p) {
                Ok(re) if !p.is_empty() => patterns.push((p.as_str(), re)),
                // PolicyConfig::check refuses these at load; should one get
                // here anyway, say so rather than skip it silently.
                _ => self.findings.push(Finding::new(
                    "content-pattern",
                    Severity::Warning,
                    None,
                    format!("the pattern `{p}` in policy.content_patterns is invalid and was not applied"),
                )),
            }
        }
        let archive = self.archive;
        for (path, entry) in &archive.entries {
            if entry.kind != EntryKind::File {
                continue;
            }
            let Some(content) = self.scannable(path) else {
                continue;
            };
            let archive_kind = archive_magic(content).or_else(|| archive_by_name(path));
            if self.policy.flag_nested_archives {
                if let Some(what) = archive_kind {
                    self.push(
                        "nested-archive",
                        Severity::Warning,
                        Some(path),
                        format!("`{path}` is an archive ({what}); its contents were not checked"),
                    );
                }
            }
            let binary = binary_kind(content);
            if self.policy.flag_binaries && archive_kind.is_none() {
                match binary {
                    Some(BinaryKind::Executable(what)) => self.push(
                        "binary",
                        Severity::Warning,
                        Some(path),
                        format!("`{path}` is an executable binary ({what})"),
                    ),
                    Some(BinaryKind::Data) => self.push(
                        "binary",
                        Severity::Info,
                        Some(path),
                        format!("`{path}` holds binary data (NUL bytes in its first 8 KiB)"),
                    ),
                    None => {}
                }
            }
            if binary.is_some() || archive_magic(content).is_some() {
                continue;
            }
            for (p, re) in &patterns {
                let mut matches = re.find_iter(content);
                let Some(first) = matches.next() else {
                    continue;
                };
                let count = 1 + matches.count();
                let (line, text) = line_at(content, first.start());
                let more = if count > 1 {
                    format!(" ({count} matches in the file)")
                } else {
                    String::new()
                };
                self.findings.push(Finding::new(
                    "content-pattern",
                    Severity::Warning,
                    Some(path),
                    format!(
                        "`{path}` line {line} matches `{p}`{more}: {}",
                        clip(&sanitize(text.trim()), 160)
                    ),
                ));
            }
            if self.policy.hidden_unicode {
                if let Some(detail) = hidden_unicode_in(content) {
                    self.push(
                        "hidden-unicode",
                        Severity::Warning,
                        Some(path),
                        format!("`{}` contains {detail}", sanitize(path)),
                    );
                }
            }
        }
        // Archives by name that are too large to sniff still count.
        if self.policy.flag_nested_archives {
            let unsniffed: Vec<(String, &str)> = archive
                .entries
                .values()
                .filter(|e| e.kind == EntryKind::File && self.scannable(&e.path).is_none())
                .filter_map(|e| archive_by_name(&e.path).map(|w| (e.path.clone(), w)))
                .collect();
            for (path, what) in unsniffed {
                self.push(
                    "nested-archive",
                    Severity::Warning,
                    Some(&path),
                    format!("`{path}` is an archive ({what}); its contents were not checked"),
                );
            }
        }
    }
}

// ---- content sniffing -------------------------------------------------------

pub(super) enum BinaryKind {
    Executable(&'static str),
    Data,
}

/// Executable magic, or NUL bytes in the first 8 KiB.
pub(super) fn binary_kind(c: &[u8]) -> Option<BinaryKind> {
    const MACHO: &[[u8; 4]] = &[
        [0xFE, 0xED, 0xFA, 0xCE],
        [0xFE, 0xED, 0xFA, 0xCF],
        [0xCE, 0xFA, 0xED, 0xFE],
        [0xCF, 0xFA, 0xED, 0xFE],
    ];
    if c.starts_with(b"\x7fELF") {
        return Some(BinaryKind::Executable("ELF"));
    }
    if MACHO.iter().any(|m| c.starts_with(m)) {
        return Some(BinaryKind::Executable("Mach-O"));
    }
    if c.starts_with(&[0xCA, 0xFE, 0xBA, 0xBE]) {
        return Some(BinaryKind::Executable(
            "Mach-O universal binary or Java class",
        ));
    }
    let nul = c[..c.len().min(SNIFF_BYTES)].contains(&0);
    if c.starts_with(b"MZ") {
        if c.len() >= 0x40 {
            let at = u32::from_le_bytes([c[0x3c], c[0x3d], c[0x3e], c[0x3f]]) as usize;
            if c.get(at..at.saturating_add(4)) == Some(b"PE\0\0") {
                return Some(BinaryKind::Executable("PE, Windows"));
            }
        }
        if nul {
            return Some(BinaryKind::Executable("MZ, DOS/Windows"));
        }
    }
    nul.then_some(BinaryKind::Data)
}

/// The archive format a file's magic bytes announce.
pub(super) fn archive_magic(c: &[u8]) -> Option<&'static str> {
    let magics: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "zip"),
        (b"PK\x05\x06", "zip"),
        (b"PK\x07\x08", "zip"),
        (b"\x1f\x8b", "gzip"),
        (b"7z\xBC\xAF\x27\x1C", "7z"),
        (b"Rar!\x1A\x07", "rar"),
        (b"\xFD7zXZ\x00", "xz"),
        (b"\x28\xB5\x2F\xFD", "zstd"),
    ];
    if let Some((_, what)) = magics.iter().find(|(m, _)| c.starts_with(m)) {
        return Some(what);
    }
    if c.len() >= 10
        && c.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&c[3])
        && &c[4..10] == b"\x31\x41\x59\x26\x53\x59"
    {
        return Some("bzip2");
    }
    if c.get(257..262) == Some(b"ustar") {
        return Some("tar");
    }
    None
}

/// The archive format a file name announces.
pub(super) fn archive_by_name(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let names: &[(&str, &str)] = &[
        (".tar.gz", "tar.gz"),
        (".tgz", "tar.gz"),
        (".zip", "zip"),
        (".tar", "tar"),
        (".gz", "gzip"),
        (".7z", "7z"),
        (".rar", "rar"),
        (".jar", "jar"),
        (".whl", "wheel"),
        (".xz", "xz"),
        (".txz", "tar.xz"),
        (".bz2", "bzip2"),
        (".tbz2", "tar.bz2"),
        (".zst", "zstd"),
    ];
    names
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, what)| *what)
}

/// The 1-based line number at byte `at` and that line's text.
pub(super) fn line_at(content: &[u8], at: usize) -> (usize, String) {
    let line = content[..at].iter().filter(|b| **b == b'\n').count() + 1;
    let start = content[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let end = content[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(content.len(), |p| at + p);
    let end = end.min(start + 1000);
    (
        line,
        String::from_utf8_lossy(&content[start..end]).into_owned(),
    )
}
