//! Reading what a server answers within a size cap. An answer over its cap is reported as too
//! large, never cut off and taken for the whole answer: the start of a body can read as a
//! complete and different answer (`{"errcode":0}` followed by megabytes of anything).

/// An answer body, read up to a cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Body {
    /// The whole body, or its first `cap` bytes when it is larger.
    pub(crate) bytes: Vec<u8>,
    /// The server sent more than the cap: `bytes` is only the start, and the rest was not read.
    pub(crate) too_large: bool,
}

/// Reads `response`'s body, stopping once it is known to be larger than `cap` bytes.
pub(crate) async fn read(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Body, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Body {
                bytes,
                too_large: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        too_large: false,
    })
}

/// A cap in words, for messages: `4 MiB`, `64 KiB`.
pub(crate) fn describe(cap: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if cap >= MIB && cap.is_multiple_of(MIB) {
        format!("{} MiB", cap / MIB)
    } else if cap >= KIB && cap.is_multiple_of(KIB) {
        format!("{} KiB", cap / KIB)
    } else {
        format!("{cap} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> reqwest::Response {
        reqwest::Response::from(axum::http::Response::new(body))
    }

    #[tokio::test]
    async fn a_body_up_to_the_cap_is_whole_and_one_byte_more_is_too_large() {
        let whole = read(&mut response("12345"), 5).await.unwrap();
        assert_eq!(whole.bytes, b"12345");
        assert!(!whole.too_large);
        let over = read(&mut response("123456"), 5).await.unwrap();
        assert_eq!(over.bytes, b"12345");
        assert!(over.too_large);
    }

    #[test]
    fn caps_are_described_in_binary_units() {
        assert_eq!(describe(4 * 1024 * 1024), "4 MiB");
        assert_eq!(describe(64 * 1024), "64 KiB");
        assert_eq!(describe(1000), "1000 bytes");
    }
}
