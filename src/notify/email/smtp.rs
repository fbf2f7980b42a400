//! SMTP delivery on lettre's connection, within bounds that lettre's own transport does not
//! keep: its `timeout` covers the connect only (lettre issue #1027), so a server that answers
//! one byte a second holds a delivery for ever; and it reads a reply line until the line ends,
//! checking its length only then, so a line without end fills memory. Here one deadline covers
//! the whole delivery, and the connection refuses more than [`MAX_UNANSWERED_BYTES`] from the
//! server between two of renewd's writes (a greeting or one reply; lettre itself refuses a
//! reply over 100,000 bytes once it has read it).
//!
//! A connection that delivered is kept for the next message to the same receiver for up to
//! [`IDLE_FOR`], as lettre's pool did. One that failed or ran out of time is closed, never
//! reused halfway through a reply.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The most the server may send between two writes of ours: far above the largest reply
/// lettre accepts (100,000 bytes) and a TLS handshake's certificates.
pub(crate) const MAX_UNANSWERED_BYTES: usize = 256 * 1024;
/// How long a connection that delivered stays open for the next message.
pub(crate) const IDLE_FOR: Duration = Duration::from_secs(60);

/// How the connection is secured.
#[derive(Clone)]
pub(crate) enum Security {
    /// Plain SMTP (a relay on this machine).
    Plain,
    /// STARTTLS, required.
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Tls(TlsParameters),
}

/// A delivery that did not get its final reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// What lettre reports: a negative reply, a broken or refused reply, TLS, …
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// No TCP connection to the server.
    #[error(transparent)]
    Connect(io::Error),
    /// The delivery did not end within the timeout.
    #[error("the delivery did not end within the timeout")]
    TimedOut,
}

/// Delivers to one SMTP server; one per receiver, since each keeps its own idle connection.
pub(crate) struct SmtpClient {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Arc<Mutex<Option<Idle>>>,
}

struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

impl SmtpClient {
    pub(crate) fn new(
        host: String,
        port: u16,
        security: Security,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> SmtpClient {
        SmtpClient {
            host,
            port,
            security,
            credentials,
            timeout,
            idle: Arc::new(Mutex::new(None)),
        }
    }

    /// Sends one message, from the connect (or the check of a kept connection) to the reply
    /// to its data, within the timeout.
    pub(crate) async fn send(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, DeliveryError> {
        tokio::time::timeout(self.timeout, self.deliver(envelope, message))
            .await
            .unwrap_or(Err(DeliveryError::TimedOut))
    }

    async fn deliver(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, DeliveryError> {
        let mut connection = match self.take_idle().await {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        // On an error the connection is dropped here, and so closed.
        let response = connection.send(envelope, message).await?;
        self.keep(connection);
        Ok(response)
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(DeliveryError::Connect)?;
        let guarded = Guarded {
            inner: tcp,
            unanswered: 0,
        };
        let hello = ClientId::default();
        let mut connection = match &self.security {
            Security::Tls(tls) => {
                let stream = ImplicitTls::connect(guarded, tls.clone()).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello).await?
            }
            Security::Plain | Security::Starttls(_) => {
                AsyncSmtpConnection::connect_with_transport(Box::new(guarded), &hello).await?
            }
        };
        if let Security::Starttls(tls) = &self.security {
            connection.starttls(tls.clone(), &hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }

    /// The kept connection, if it is still young and the server still answers on it (NOOP).
    async fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        if idle.since.elapsed() > IDLE_FOR {
            return None;
        }
        let mut connection = idle.connection;
        connection.test_connected().await.then_some(connection)
    }

    /// Keeps a connection that delivered, and closes it (QUIT) once idle for [`IDLE_FOR`].
    fn keep(&self, connection: AsyncSmtpConnection) {
        let since = Instant::now();
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some(Idle { connection, since });
        let idle = Arc::downgrade(&self.idle);
        let timeout = self.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(IDLE_FOR).await;
            let Some(idle) = idle.upgrade() else { return };
            let expired = {
                let mut slot = idle.lock().unwrap_or_else(|e| e.into_inner());
                // Unless a delivery took it (and maybe kept it again) meanwhile.
                match slot.as_ref() {
                    Some(kept) if kept.since == since => slot.take(),
                    _ => None,
                }
            };
            if let Some(mut expired) = expired {
                let _ = tokio::time::timeout(timeout, expired.connection.quit()).await;
            }
        });
    }
}

/// The TCP connection, refusing more than [`MAX_UNANSWERED_BYTES`] from the server between two
/// writes of ours. Under TLS it counts the encrypted bytes.
#[derive(Debug)]
struct Guarded {
    inner: TcpStream,
    unanswered: usize,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.unanswered += buf.filled().len() - before;
        if self.unanswered > MAX_UNANSWERED_BYTES {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {} without waiting for a command",
                crate::capped::describe(MAX_UNANSWERED_BYTES)
            ))));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        if written > 0 {
            self.unanswered = 0;
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Guarded {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// TLS from the first byte over the guarded connection, by lettre's own TLS code (the same
/// that its transport uses), seen through tokio's I/O traits: lettre's stream type speaks the
/// `futures` ones, and its connection takes tokio ones.
#[allow(deprecated)]
#[derive(Debug)]
struct ImplicitTls(AsyncNetworkStream);

#[allow(deprecated)]
impl ImplicitTls {
    async fn connect(guarded: Guarded, tls: TlsParameters) -> Result<ImplicitTls, DeliveryError> {
        let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(guarded));
        stream.upgrade_tls(tls).await?;
        Ok(ImplicitTls(stream))
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = ready!(futures::io::AsyncRead::poll_read(
            Pin::new(&mut self.0),
            cx,
            buf.initialize_unfilled()
        ))?;
        buf.advance(read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}
