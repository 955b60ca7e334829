/**
 * Delivers the outbox: each waiting delivery is claimed (so no other instance sends it), posted
 * once, then marked delivered, retried later with backoff, or dropped. Runs beside the elevation,
 * never in its way: the outcome was recorded before anything here happens.
 */
import type { Logger } from '../log';
import { TIMED_OUT, within } from '../support/within';
import type {
  ChannelSender,
  Clock,
  Delivery,
  Effects,
  ElevationStore,
  Notifier,
  NotificationStore,
  SendResult,
} from './ports';

export interface NotificationDispatcherOptions {
  store: NotificationStore & Pick<ElevationStore, 'appendAudit'>;
  sender: ChannelSender;
  clock: Clock;
  logger: Logger;
  /** Attempts per delivery before it is dropped. */
  maxAttempts: number;
  /** First retry delay; doubles with each attempt (with jitter), capped at `maxRetryDelayMs`. */
  retryBaseMs: number;
  maxRetryDelayMs?: number;
  /** How long one post may take before it counts as timed out (and is retried). */
  sendTimeoutMs: number;
  /** How often the outbox is looked at without being woken (restarts, other instances). */
  pollMs: number;
  /** Posts in flight at once. */
  concurrency?: number;
}

const BATCH = 50;

export class NotificationDispatcher implements Notifier {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private poller: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private lookForAbandoned = false;

  constructor(private readonly options: NotificationDispatcherOptions) {}

  /** Starts polling, and delivers what a previous run left behind. */
  start(): void {
    this.poller = setInterval(() => this.wake({ lookForAbandoned: true }), this.options.pollMs);
    this.poller.unref();
    this.wake({ lookForAbandoned: true });
  }

  /**
   * Something new is in the outbox: deliver it soon (coalesced). The work starts on a later turn
   * of the event loop, so the caller (a user's click) answers first. Deliveries abandoned by a
   * dead process are looked for on the timer only.
   */
  wake(options: { lookForAbandoned?: boolean } = {}): void {
    if (this.stopped) return;
    this.lookForAbandoned ||= options.lookForAbandoned === true;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drain())
      .catch((error) => this.options.logger.error('notification delivery failed', { error }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops polling and waits for posts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.running;
  }

  private async drain(): Promise<void> {
    const { store, clock } = this.options;
    const lease = this.leaseMs();
    // Whether Teams got it is unknown; sending again could post it twice.
    const reason = 'the sender stopped mid-post (restart or crash); not sent again';
    // Each drop and its audit event are one write.
    const abandoned = this.lookForAbandoned
      ? await store.abandonStaleDeliveries(clock.now(), (stale) =>
          this.audited(stale, 'notification-dropped', reason),
        )
      : [];
    this.lookForAbandoned = false;
    for (const stale of abandoned) {
      this.options.logger.warn('notification delivery abandoned', {
        notificationId: stale.notification.id,
        channelId: stale.channelId,
        reason,
      });
    }
    for (;;) {
      const batch = await store.claimDeliveries(clock.now(), BATCH, lease);
      if (batch.length === 0) break;
      await this.inParallel(batch, (delivery) => this.deliver(delivery));
      if (this.stopped) return;
    }
    await this.scheduleNext();
  }

  /** A retry due before the next poll gets a timer of its own. */
  private async scheduleNext(): Promise<void> {
    const due = await this.options.store.nextDeliveryDue();
    if (!due || this.stopped) return;
    const at = due.getTime();
    if (at >= this.wakeAt) return;
    const delay = Math.max(0, at - this.options.clock.now().getTime());
    if (delay >= this.options.pollMs) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity;
      this.wakeTimer = undefined;
      this.wake();
    }, delay);
    this.wakeTimer.unref();
  }

  private leaseMs(): number {
    // Long enough for a post with the connector client's own quick retries.
    return this.options.sendTimeoutMs * 2 + 10_000;
  }

  private async inParallel(items: Delivery[], work: (item: Delivery) => Promise<void>) {
    const queue = [...items];
    const workers = Array.from(
      { length: Math.min(this.options.concurrency ?? 4, queue.length) },
      async () => {
        for (let item = queue.shift(); item; item = queue.shift()) await work(item);
      },
    );
    await Promise.all(workers);
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const { store, clock } = this.options;
    const log = this.options.logger.child({
      notificationId: delivery.notification.id,
      channelId: delivery.channelId,
      attempt: delivery.attempts,
    });
    if (!delivery.subscription) {
      // Unsubscribed (or its team deleted) after the notification was queued.
      await store.finishDelivery(
        delivery.id,
        { state: 'dropped', at: clock.now(), error: 'the channel is no longer subscribed' },
        this.audited(delivery, 'notification-dropped', 'unsubscribed'),
      );
      return;
    }
    const result = await this.send(delivery);
    switch (result.kind) {
      case 'delivered':
        await store.finishDelivery(
          delivery.id,
          { state: 'delivered', at: clock.now() },
          this.audited(delivery, 'notification-delivered'),
        );
        log.info('notification delivered');
        return;
      case 'gone': {
        const dropped = await store.dropChannel(
          delivery.channelId,
          result.reason,
          this.audited(delivery, 'notification-dropped', result.reason),
        );
        await store.finishDelivery(delivery.id, {
          state: 'dropped',
          at: clock.now(),
          error: result.reason,
        });
        log.warn('the bot can no longer post in this channel: unsubscribed it', {
          reason: result.reason,
          alsoDropped: dropped,
        });
        return;
      }
      case 'failed':
        await store.finishDelivery(
          delivery.id,
          { state: 'dropped', at: clock.now(), error: result.reason },
          this.audited(delivery, 'notification-dropped', result.reason),
        );
        log.warn('notification refused by Teams: dropped', { reason: result.reason });
        return;
      case 'retry': {
        if (delivery.attempts >= this.options.maxAttempts) {
          const reason = `gave up after ${delivery.attempts} attempts: ${result.reason}`;
          await store.finishDelivery(
            delivery.id,
            { state: 'dropped', at: clock.now(), error: reason },
            this.audited(delivery, 'notification-dropped', reason),
          );
          log.error('notification dropped', { reason });
          return;
        }
        const delay = this.retryDelay(delivery.attempts, result.retryAfterMs);
        await store.retryDelivery(
          delivery.id,
          new Date(clock.now().getTime() + delay),
          result.reason,
        );
        log.warn('notification will be retried', { reason: result.reason, inMs: delay });
      }
    }
  }

  private async send(delivery: Delivery): Promise<SendResult> {
    const subscription = delivery.subscription;
    if (!subscription) return { kind: 'failed', reason: 'no subscription' };
    const abort = new AbortController();
    try {
      const result = await within(
        this.options.sender.send(subscription, delivery.notification, abort.signal),
        this.options.sendTimeoutMs,
        // Stops the post and the connector client's own retries of it.
        () => abort.abort(),
      );
      return result === TIMED_OUT
        ? { kind: 'retry', reason: `no answer within ${this.options.sendTimeoutMs} ms` }
        : result;
    } catch (error) {
      // The sender reports failures as values; a throw is unexpected, and worth another try.
      return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Exponential backoff with full jitter; Retry-After, when given, is a floor. */
  private retryDelay(attempts: number, retryAfterMs?: number): number {
    const cap = this.options.maxRetryDelayMs ?? 5 * 60_000;
    const exponential = Math.min(cap, this.options.retryBaseMs * 2 ** (attempts - 1));
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    return Math.min(cap, Math.max(retryAfterMs ?? 0, jittered));
  }

  private audited(
    delivery: Delivery,
    type: 'notification-delivered' | 'notification-dropped',
    reason?: string,
  ): Effects {
    const { notification } = delivery;
    return {
      audit: {
        type,
        at: this.options.clock.now(),
        requestId: notification.requestId,
        actor: notification.requester.aadObjectId,
        tenantId: notification.tenantId,
        environmentId: notification.environment?.id,
        details: {
          notificationId: notification.id,
          channelId: delivery.channelId,
          attempts: delivery.attempts,
          ...(reason ? { reason } : {}),
        },
      },
    };
  }
}
