//! The trait a service implements to apply the events its consumer reads.

use std::future::Future;

use sqlx::PgConnection;

use crate::envelope::Envelope;

/// What a service does with one event. It gets the event's validated envelope and the open
/// transaction; everything it writes commits together with the inbox record and the new
/// position, or not at all.
pub trait Handler: Send + Sync + 'static {
    type Error: std::fmt::Display + Send;

    fn handle<'a>(
        &'a self,
        event: &'a Envelope,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a;

    /// Called once per transaction, after its last `handle` and before it commits: work done
    /// once for all the events of a batch (a high-water mark, say) instead of once per event.
    /// A failure here counts as the batch's last event failing.
    fn flush<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// The transaction of the `handle` calls since the last `settled` committed (`true`) or
    /// did not (`false`): for a handler that remembers what it has written, so that it
    /// forgets what was rolled back.
    fn settled(&self, _committed: bool) {}
}

impl<H: Handler> Handler for std::sync::Arc<H> {
    type Error = H::Error;

    fn handle<'a>(
        &'a self,
        event: &'a Envelope,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        (**self).handle(event, tx)
    }

    fn flush<'a>(
        &'a self,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        (**self).flush(tx)
    }

    fn settled(&self, committed: bool) {
        (**self).settled(committed)
    }
}
