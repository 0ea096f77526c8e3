//! The gateway's HTTP server: the accept loop, the connection cap and each connection's life.
//!
//! HTTP/1.1 through hyper, with the bounds of [`crate::connections`] around it: every connection
//! is registered, the janitor closes those that wait too long on their client, and at the cap
//! the longest-waiting one makes room for a new one. A shutdown stops accepting, lets every
//! connection finish the request it is on, and waits for them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use pinpipe_telemetry::gateway::{ConnectionClosed, ConnectionOpened};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::GatewayConfig;
use crate::connections::{Connection, Connections, Timeouts};

/// File descriptors kept free of client connections (the bus, logs, the backends' sockets).
const RESERVED_FDS: u64 = 64;

/// Serves `router` on `listener` with the connection bounds of `config` until `shutdown`
/// completes, then waits for the requests in flight.
///
/// Not generic (`shutdown` comes boxed), so that the connections' code, tasks and all, is compiled
/// and optimised here rather than in the crate that calls it: the CLI builds at a lower
/// optimisation level (see the workspace's `Cargo.toml`).
pub async fn run(
    listener: TcpListener,
    router: Router,
    config: &GatewayConfig,
    mut shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> io::Result<()> {
    let cap = connection_cap(config.max_connections);
    tracing::debug!(max_connections = cap, "accepting connections");
    let connections = Arc::new(Connections::new());
    let janitor = tokio::spawn(Arc::clone(&connections).janitor(Timeouts {
        header: config.header_read_timeout,
        body: config.body_read_timeout,
        keep_alive: config.keep_alive_timeout,
    }));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        if connections.len() >= cap && !connections.evict_one() {
            // Every connection is busy on the gateway's side: leave new ones in the backlog.
            tokio::select! {
                () = &mut shutdown => break,
                () = connections.wait_for_room(Duration::from_millis(100)) => continue,
            }
        }
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener itself is fine. Wait a moment rather than spin.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, connection) = connections.add();
        ConnectionOpened.emit();
        let registry = Arc::clone(&connections);
        let router = router.clone();
        let stopping = stopping.clone();
        tasks.spawn(async move {
            serve_connection(stream, router, Arc::clone(&connection), stopping).await;
            registry.remove(id);
            ConnectionClosed {
                peer,
                reason: connection.close_reason(),
            }
            .emit();
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    janitor.abort();
    Ok(())
}

/// Serves one connection until the client leaves, the gateway closes it, or a shutdown lets it
/// finish its request.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    connection: Arc<Connection>,
    mut stopping: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        connection: Arc::clone(&connection),
    });
    let per_request = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        per_request.request_started();
        request.extensions_mut().insert(Arc::clone(&per_request));
        let mut router = router.clone();
        let call = router.call(request.map(Body::new));
        let finished = Arc::clone(&per_request);
        async move {
            let response = call.await;
            finished.request_finished();
            response
        }
    });
    let served = http1::Builder::new().serve_connection(io, service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        () = connection.closed() => {}
        () = stopped(&mut stopping) => {
            served.as_mut().graceful_shutdown();
            tokio::select! {
                _ = served.as_mut() => {}
                () = connection.closed() => {}
            }
        }
    }
}

/// Resolves once the server is stopping.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// The connection cap: the configured one, or what the open-file limit allows once raised to
/// its hard limit.
fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit; assuming 1024");
            1024
        }
    };
    usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX)
}

/// A client stream that tells its connection when bytes arrive, so the janitor knows when a
/// request's head started.
struct Tracked {
    inner: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.connection.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
