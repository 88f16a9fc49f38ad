//! The operator's HTTP endpoints, on hyper 1 (already in the dependency tree through kube):
//!
//! - `GET /healthz`: 200 while the process serves requests (liveness);
//! - `GET /readyz`: 200 when [`Telemetry::is_ready`], else 503 (readiness);
//! - `GET /metrics`: the Prometheus metrics ([`crate::runtime::metrics`]).
//!
//! Anything else is 404; a method other than GET or HEAD is 405.

use super::Telemetry;
use super::metrics::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The address `tusk operator` listens on unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// Answers requests on `listener` until the returned future is dropped; each connection runs in its own task.
pub async fn serve(listener: TcpListener, telemetry: Arc<Telemetry>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "cannot accept an HTTP connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = respond(&request, &telemetry);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        });
    }
}

/// The answer to one request.
fn respond(request: &Request<Incoming>, telemetry: &Telemetry) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if telemetry.is_ready() => text(StatusCode::OK, "ok\n"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: starting, or leading before the watches have synced\n",
        ),
        "/metrics" => Response::builder()
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(Full::new(Bytes::from(telemetry.metrics.encode())))
            .expect("a valid response"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Role;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends one HTTP/1.1 request and returns the status code and the body.
    async fn get(address: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    #[tokio::test]
    async fn health_readiness_and_metrics() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let telemetry = Telemetry::new();
        let server = tokio::spawn(serve(listener, telemetry.clone()));

        assert_eq!(get(address, "GET", "/healthz").await, (200, "ok\n".into()));
        assert_eq!(get(address, "GET", "/readyz").await.0, 503);
        telemetry.set_role(Role::Leading);
        assert_eq!(get(address, "GET", "/readyz").await.0, 503);
        telemetry.set_synced(true);
        assert_eq!(get(address, "GET", "/readyz").await.0, 200);

        telemetry
            .metrics
            .reconciled(std::time::Duration::from_millis(5), true);
        let (status, body) = get(address, "GET", "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("tusk_reconciles_total{result=\"ok\"} 1\n"),
            "{body}"
        );
        assert!(body.contains("tusk_leader 1\n"), "{body}");

        assert_eq!(get(address, "GET", "/secrets").await.0, 404);
        assert_eq!(get(address, "POST", "/healthz").await.0, 405);
        server.abort();
    }
}
