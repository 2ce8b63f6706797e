//! `s3://bucket/prefix`: which bucket, and the folder in it.

use std::fmt;

/// A bucket and a key prefix, as written in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketUrl {
    /// The bucket's name.
    pub bucket: String,
    /// The folder inside it, without leading or trailing `/` (`""`: the
    /// bucket's top).
    pub prefix: String,
}

/// The longest prefix, in bytes: S3 keys are at most 1,024 bytes, and the
/// tree's own paths below the prefix take up to about 200.
pub const MAX_PREFIX_BYTES: usize = 512;

/// Why a string is not an `s3://` URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{given}` is not a bucket URL: {why}; write s3://BUCKET or s3://BUCKET/PREFIX")]
pub struct BadBucketUrl {
    given: String,
    why: &'static str,
}

impl BucketUrl {
    /// Parses `s3://bucket` or `s3://bucket/some/prefix`.
    pub fn parse(given: &str) -> Result<BucketUrl, BadBucketUrl> {
        let bad = |why| BadBucketUrl {
            given: given.to_string(),
            why,
        };
        let rest = given
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3-63 of a-z 0-9 . -, starting and
        // ending with a letter or digit, no two dots in a row.
        let edge_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || bucket.contains("..")
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            || !edge_ok(bucket.chars().next())
            || !edge_ok(bucket.chars().last())
        {
            return Err(bad(
                "the bucket name must be 3 to 63 of a-z, 0-9, '.' and '-'",
            ));
        }
        let prefix = prefix.trim_matches('/');
        // Only characters no layer encodes: object_store would write `%`,
        // `{` or `#` percent-encoded (and the listing, compared with the
        // prefix as written, would then find nothing), and a web endpoint
        // must be sent a space, `?` or non-ASCII encoded.
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/');
        if prefix
            .split('/')
            .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
            || !prefix.chars().all(plain)
        {
            return Err(bad(
                "the prefix must be folder names of A-Z, a-z, 0-9, '.', '_' and '-' separated by '/'",
            ));
        }
        if prefix.len() > MAX_PREFIX_BYTES {
            return Err(bad("the prefix must be at most 512 bytes"));
        }
        Ok(BucketUrl {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            prefix => write!(f, "s3://{}/{prefix}", self.bucket),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let url = BucketUrl::parse("s3://skills-tree/reg/v1/").unwrap();
        assert_eq!(
            (url.bucket.as_str(), url.prefix.as_str()),
            ("skills-tree", "reg/v1")
        );
        assert_eq!(url.to_string(), "s3://skills-tree/reg/v1");
        assert_eq!(BucketUrl::parse("s3://abc").unwrap().prefix, "");
    }

    #[test]
    fn refuses_what_is_not_a_bucket_url() {
        for bad in [
            "https://abc/x",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-abc",
            "s3://abc/../x",
            "s3://abc/a//b",
            "s3://abc/a\\b",
        ] {
            let err = BucketUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("s3://BUCKET"), "{bad}: {err}");
        }
    }

    /// What object_store would percent-encode (`%`, `{`, `#`…), what a web
    /// endpoint must be sent encoded (a space, `?`, non-ASCII) and S3's own
    /// bucket rules: refused, so that the keys written, listed and served
    /// are the prefix as written.
    #[test]
    fn refuses_a_prefix_that_would_not_be_the_key_as_written() {
        for bad in [
            "s3://abc/a%b",
            "s3://abc/pre fix",
            "s3://abc/p?x",
            "s3://abc/p#x",
            "s3://abc/{x}",
            "s3://abc/pr\u{e9}fix",
            "s3://abc?x",
            "s3://abc./x",
            "s3://a..bc",
            "s3://abc/a\u{0}b",
        ] {
            let err = BucketUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("s3://BUCKET"), "{bad}: {err}");
        }
        let long = format!("s3://abc/{}", "x".repeat(MAX_PREFIX_BYTES + 1));
        assert!(BucketUrl::parse(&long).is_err());
        for good in ["s3://a.b-c/Reg_v1/x.y-z", "s3://abc//x/", "s3://1bc"] {
            assert!(BucketUrl::parse(good).is_ok(), "{good}");
        }
        assert_eq!(BucketUrl::parse("s3://abc//x/").unwrap().prefix, "x");
    }

    /// Both homes, or a home without the URL it is served at, are refused
    /// by the config check with the key named.
    #[test]
    fn the_config_check_refuses_dir_with_target_and_either_without_base_url() {
        let parse = |text: &str| {
            crate::config::Config::parse(text, std::path::Path::new("t.toml"))
                .map(drop)
                .unwrap_err()
                .to_string()
        };
        let both = parse(
            "[export]\ndir = \"/tmp/t\"\ntarget = \"s3://abc\"\nbase_url = \"http://t.example\"\n",
        );
        assert!(both.contains("not both"), "{both}");
        let no_base = parse("[export]\ntarget = \"s3://abc\"\n");
        assert!(no_base.contains("base_url"), "{no_base}");
        let bad = parse("[export]\ntarget = \"s3://abc/a%b\"\nbase_url = \"http://t.example\"\n");
        assert!(bad.contains("export.target"), "{bad}");
    }
}
