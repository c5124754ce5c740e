//! Keeping a connection to the model service open before it is needed: the first
//! action after start, or after a pause, should not wait for TCP and TLS handshakes
//! with a remote service.

use std::time::Duration;

use tokio::time::Instant;

use super::ResponsesClient;
use crate::openai::error::clean_message;

/// A pooled connection unused this long may have been closed by the service or a
/// proxy on the way (many close idle keep-alive connections after 30–120 s).
const IDLE_BEFORE_REWARM: Duration = Duration::from_secs(30);

impl ResponsesClient {
    /// Opens a pooled connection to the service (TCP, TLS, HTTP/2 where offered) so
    /// that the next action does not pay for the handshakes: a `HEAD` of the endpoint
    /// with no key, whose answer does not matter. Only for `https` (a plain-http
    /// endpoint is on this machine, where connecting costs nothing) and with a key
    /// to act with.
    pub async fn warm(&self) {
        if self.inner.endpoint.scheme() != "https" || self.inner.cfg.api_key.is_none() {
            return;
        }
        self.touch();
        let head = self
            .inner
            .http
            .head(self.inner.endpoint.clone())
            .timeout(self.inner.cfg.connect_timeout.saturating_mul(2))
            .send();
        match head.await {
            Ok(r) => tracing::debug!(status = r.status().as_u16(), "connection warmed"),
            Err(e) => tracing::debug!(
                "warming the connection failed: {}",
                clean_message(&e.to_string())
            ),
        }
    }

    /// [`ResponsesClient::warm`], when the service has not been reached for a while:
    /// called when the user looks about to act (a code action menu), so the action
    /// itself finds a live connection.
    pub async fn warm_if_idle(&self) {
        let idle = crate::sync::lock(&self.inner.last_contact)
            .is_none_or(|t| t.elapsed() >= IDLE_BEFORE_REWARM);
        if idle {
            self.warm().await;
        }
    }

    pub(super) fn touch(&self) {
        *crate::sync::lock(&self.inner.last_contact) = Some(Instant::now());
    }
}
