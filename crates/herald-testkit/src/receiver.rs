//! A real HTTP receiver on a loopback port, for what Herald sends (notifications, hooks at a
//! stand-in host): every request's headers and body are passed on, answered 200.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::mpsc;

/// What a receiver saw of one request.
pub type Received = (HeaderMap, Bytes);

/// Starts a receiver; its URL (`http://127.0.0.1:PORT/hook`) and what it receives.
pub async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app =
        axum::Router::new()
            .fallback(
                |State(tx): State<mpsc::UnboundedSender<Received>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    tx.send((headers, body)).ok();
                    StatusCode::OK
                },
            )
            .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port for the receiver");
    let url = format!(
        "http://{}/hook",
        listener.local_addr().expect("the receiver's address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, rx)
}
