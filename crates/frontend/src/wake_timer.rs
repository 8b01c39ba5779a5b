//! The one timer of a front-end driver task (standalone and replicated): armed for the driver's next deadline, and
//! only ever moved earlier.
//!
//! Why only earlier: moving a tokio timer is a timer-wheel update, and while requests flow the driver's next
//! deadline moves on almost every turn. A timer that fires early costs one turn that finds nothing due, after which
//! the driver arms it for what is then next. Deliberately not here: what the deadlines are.

use std::pin::Pin;

use tokio::time::{Instant, Sleep};

/// See the module doc.
#[derive(Debug)]
pub struct WakeTimer {
    sleep: Pin<Box<Sleep>>,
    /// When the timer fires; `None` while it is not armed.
    armed: Option<Instant>,
}

impl Default for WakeTimer {
    fn default() -> Self {
        WakeTimer { sleep: Box::pin(tokio::time::sleep_until(Instant::now())), armed: None }
    }
}

impl WakeTimer {
    /// Makes the timer fire at `at`, unless it is already armed for no later than that.
    pub fn arm_no_later_than(&mut self, at: Instant) {
        if self.armed.is_none_or(|armed| at < armed) {
            self.sleep.as_mut().reset(at);
            self.armed = Some(at);
        }
    }

    /// Completes when the armed time has come, and disarms; never completes while unarmed. Cancel-safe (for
    /// `select!`): dropping it before it completes changes nothing.
    pub async fn fired(&mut self) {
        if self.armed.is_none() {
            std::future::pending::<()>().await;
        }
        self.sleep.as_mut().await;
        self.armed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn only_moves_earlier_and_fires_once() {
        let mut timer = WakeTimer::default();
        // Unarmed: never fires (paused time jumps the hour at once).
        assert!(tokio::time::timeout(Duration::from_secs(3600), timer.fired()).await.is_err());
        let armed_from = Instant::now();
        timer.arm_no_later_than(armed_from + Duration::from_secs(5));
        timer.arm_no_later_than(armed_from + Duration::from_secs(2));
        timer.arm_no_later_than(armed_from + Duration::from_secs(9));
        timer.fired().await;
        assert_eq!(Instant::now() - armed_from, Duration::from_secs(2), "the earliest time asked for");
        // Fired: disarmed until armed again.
        assert!(tokio::time::timeout(Duration::from_secs(3600), timer.fired()).await.is_err());
        timer.arm_no_later_than(Instant::now() + Duration::from_secs(1));
        assert!(tokio::time::timeout(Duration::from_secs(2), timer.fired()).await.is_ok());
    }
}
