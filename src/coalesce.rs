//! Many small requests, one statement: a group commit for requests that arrive
//! concurrently and each cost a round trip and a transaction of their own.
//!
//! In a fan-out of 100,000 SMS, Kannel posts a delivery report for each message
//! (hundreds of connections open at once), and the worker checks each
//! contact's consent just before handing its message over. One statement (and
//! for a write, one transaction) each made those two the database's largest
//! load after the claim itself: on PostgreSQL some 26,000 report transactions
//! and 56,000 consent reads in 45 s of a storm, three round trips a report.
//!
//! A [`Coalesce`] runs a batch function on its own task. A caller hands it one
//! item and waits for that item's answer; the task takes every item queued
//! while its previous batch ran (up to a maximum) and runs them as one batch.
//! Nothing waits on a timer: an item that arrives while the task is idle runs
//! at once, alone; batches grow only when requests queue, which is exactly
//! when the round trips were the cost. Each caller still waits until its own
//! item's batch has finished (a report is acknowledged only once it is
//! committed; a consent check reads the database after the check was asked
//! for), so batching changes no guarantee.
//!
//! The batch runs on the task, not in a caller's future, so a caller that goes
//! away (a reporting gateway that hangs up) cannot cancel a half-written batch
//! for the others.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

type Reply<O> = oneshot::Sender<Result<O, String>>;

/// A queue of items answered in batches by one function (see the module docs).
pub struct Coalesce<I, O> {
    queue: mpsc::UnboundedSender<(I, Reply<O>)>,
}

impl<I: Send + 'static, O: Send + 'static> Coalesce<I, O> {
    /// Starts the task (on the current Tokio runtime). `run` gets at most `max`
    /// items and answers each, in order; it stops when the last handle to the
    /// queue is dropped.
    pub fn new<F, Fut>(name: &'static str, max: usize, mut run: F) -> Coalesce<I, O>
    where
        F: FnMut(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<O>>> + Send,
    {
        let (queue, mut queued) = mpsc::unbounded_channel::<(I, Reply<O>)>();
        tokio::spawn(async move {
            let (mut items, mut replies) = (Vec::new(), Vec::new());
            while let Some((item, reply)) = queued.recv().await {
                items.push(item);
                replies.push(reply);
                while items.len() < max {
                    let Ok((item, reply)) = queued.try_recv() else {
                        break;
                    };
                    items.push(item);
                    replies.push(reply);
                }
                metrics::histogram!("herald_coalesced_batch_size", "batch" => name)
                    .record(items.len() as f64);
                match run(std::mem::take(&mut items)).await {
                    Ok(answers) => {
                        debug_assert_eq!(answers.len(), replies.len(), "{name}: one answer each");
                        // A caller that has gone away no longer wants its answer.
                        for (reply, answer) in replies.drain(..).zip(answers) {
                            let _ = reply.send(Ok(answer));
                        }
                        // Without an answer (a bug in `run`), dropping the
                        // reply tells the caller so.
                        replies.clear();
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in replies.drain(..) {
                            let _ = reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        Coalesce { queue }
    }

    /// Queues `item` and waits for its batch's answer for it. A failed batch
    /// fails every item in it, with the batch's error.
    pub async fn call(&self, item: I) -> Result<O> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Internal(anyhow::anyhow!("the batch task has stopped"));
        self.queue.send((item, reply)).map_err(|_| stopped())?;
        match answer.await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(message)) => Err(Error::Internal(anyhow::anyhow!(message))),
            Err(_) => Err(stopped()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    #[tokio::test]
    async fn items_queued_while_a_batch_runs_go_together_in_the_next() {
        // Each batch reports what it got, then waits to be let through, so
        // the test decides what is queued meanwhile.
        let (entered, mut batches) = mpsc::unbounded_channel::<Vec<u32>>();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let open = std::sync::Arc::clone(&gate);
        let doubled = Coalesce::new("test", 3, move |items: Vec<u32>| {
            let (entered, open) = (entered.clone(), std::sync::Arc::clone(&open));
            async move {
                entered.send(items.clone()).expect("test");
                open.acquire().await.expect("open").forget();
                Ok(items.into_iter().map(|i| i * 2).collect())
            }
        });
        let mut first = pin!(doubled.call(1));
        assert!(futures::poll!(&mut first).is_pending());
        // Nothing else was queued: the first item runs alone.
        assert_eq!(batches.recv().await, Some(vec![1]));
        // Four more queue while it runs (polled once each: queued, waiting).
        let mut rest: Vec<_> = (2..=5).map(|i| Box::pin(doubled.call(i))).collect();
        for call in &mut rest {
            assert!(futures::poll!(call).is_pending());
        }
        gate.add_permits(3);
        assert_eq!(first.await.unwrap(), 2);
        assert_eq!(
            futures::future::try_join_all(rest).await.unwrap(),
            vec![4, 6, 8, 10]
        );
        // Then at most three at a time, in the order queued.
        assert_eq!(batches.recv().await, Some(vec![2, 3, 4]));
        assert_eq!(batches.recv().await, Some(vec![5]));
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_items() {
        let failing = Coalesce::new("test", 10, |_: Vec<u32>| async {
            Err::<Vec<u32>, _>(Error::Conflict("database unreachable".into()))
        });
        let e = failing.call(7).await.unwrap_err();
        assert!(e.to_string().contains("database unreachable"), "{e}");
    }
}
