//! Every request runs in a `request` span carrying its method, path and request id, and its answer carries the id
//! in `x-request-id`: the client's own id when it sent one that fits in a log line (1 to 128 visible ASCII
//! characters), a fresh UUID otherwise. The service's spans (`ingest`, `store`, `hand_over`) nest inside it, so a
//! log line of a change names the request it came with.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id a request goes by: the client's, when usable, else a new one.
pub fn request_id(given: Option<&HeaderValue>) -> HeaderValue {
    given
        .filter(|v| (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            // A UUID is visible ASCII, always a valid header value.
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).unwrap_or(HeaderValue::from_static("-"))
        })
}

/// Middleware: the request span and the `x-request-id` answer header.
pub async fn trace_request(req: Request, next: Next) -> Response {
    let id = request_id(req.headers().get(HEADER));
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = id.to_str().unwrap_or_default(),
    );
    let mut response = next.run(req).instrument(span).await;
    response.headers_mut().insert(HEADER, id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_client_id_is_kept_and_anything_else_is_replaced() {
        let kept = HeaderValue::from_static("req-42");
        assert_eq!(request_id(Some(&kept)), kept);
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_static("a b"),
            HeaderValue::from_str(&"x".repeat(129)).unwrap(),
        ] {
            let got = request_id(Some(&bad));
            assert_ne!(got, bad);
            assert_eq!(got.len(), 36, "a UUID");
        }
        assert_eq!(request_id(None).len(), 36);
    }
}
