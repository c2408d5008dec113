//! Reading a callback body of any size in bounded memory. Only two parts of it are ever used (see
//! `apsis_worker_faas::callback`): the first `output_limit` bytes (the `output` variable; one byte more tells that
//! it was cut) and the last `ERROR_TEXT_LIMIT` bytes (a failure's error text). A body longer than both together is
//! kept as its head followed by its tail, which `callback::parse_with_limit` reads exactly as it would read the
//! whole body: the output is the head, cut and marked truncated, and the error text is the tail.

use apsis_worker_faas::callback::ERROR_TEXT_LIMIT;
use axum::body::Body;
use http_body_util::BodyExt;

/// The head (at most `output_limit + 1` bytes) and tail of `body`, or the whole body when it is not longer.
pub(crate) async fn head_and_tail(body: Body, output_limit: usize) -> Result<Vec<u8>, axum::Error> {
    let head_limit = output_limit + 1;
    let mut head = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
            continue; // trailers
        };
        let room = head_limit - head.len();
        if room > 0 {
            let take = room.min(data.len());
            head.extend_from_slice(&data.split_to(take));
        }
        tail.extend_from_slice(&data);
        // Keep the tail within twice its limit, so copying is amortized.
        if tail.len() > 2 * ERROR_TEXT_LIMIT {
            tail.drain(..tail.len() - ERROR_TEXT_LIMIT);
        }
    }
    let keep = tail.len().min(ERROR_TEXT_LIMIT);
    head.extend_from_slice(&tail[tail.len() - keep..]);
    Ok(head)
}

#[cfg(test)]
mod tests {
    use apsis_worker_faas::callback::parse_with_limit;
    use http::HeaderMap;

    use super::*;

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-Call-Id", "c".parse().unwrap());
        h.insert("X-Function-Status", "500".parse().unwrap());
        h
    }

    fn chunked(bytes: &[u8], chunk: usize) -> Body {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
        Body::from_stream(tokio_stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_long_body_reads_as_the_whole_would() {
        let mut body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        body.extend_from_slice("\nERROR: the end é".as_bytes());
        for chunk in [1000, 4096, 70_000, body.len()] {
            let kept = head_and_tail(chunked(&body, chunk), 1000).await.unwrap();
            assert!(kept.len() <= 1001 + ERROR_TEXT_LIMIT, "{}", kept.len());
            let whole = parse_with_limit(&headers(), &body, 1000).unwrap();
            let bounded = parse_with_limit(&headers(), &kept, 1000).unwrap();
            assert_eq!(bounded, whole, "chunk {chunk}");
            assert!(bounded.output_truncated && bounded.error_text.ends_with("the end é"));
        }
    }

    #[tokio::test]
    async fn a_short_body_is_kept_whole() {
        for body in [&b""[..], b"{\"a\": 1}", &[b'x'; 1001]] {
            let kept = head_and_tail(chunked(body, 3.max(body.len())), 1000)
                .await
                .unwrap();
            assert_eq!(kept, body);
        }
    }
}
