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
        // ending with a letter or digit.
        let edge_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
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
        if prefix
            .split('/')
            .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
            || prefix.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(bad(
                "the prefix must be plain folder names separated by '/'",
            ));
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
}
