//! A deadline on reading a request's body: a client that sends its headers and then trickles (or stops sending) its
//! body cannot hold a connection and a handler for longer than this. The deadline covers the whole body, counted
//! from when the handler starts reading it, not the gap between two chunks, so a body sent a byte at a time still
//! ends. A body not read by its handler is not timed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// The error a body gives when its deadline passes; [`crate::extract::Body`] answers it with `408`.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// Middleware: wraps every request's body in a [`TimedBody`] with `limit`.
pub async fn limit_body_time(limit: Duration, req: Request, next: Next) -> Response {
    let req = req.map(|inner| Body::new(TimedBody { inner, limit, deadline: None }));
    next.run(req).await
}

/// A body that fails with [`BodyTimedOut`] once `limit` has passed since its first poll.
pub struct TimedBody {
    inner: Body,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let limit = self.limit;
        let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(limit)))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `err` (or one of its causes) is a [`BodyTimedOut`].
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        cur = e.source();
    }
    false
}
