/**
 * What the two stores' outboxes share: the states a delivery (one notification on its way to
 * one channel) goes through, and what a delivery abandoned mid-send is dropped with.
 */

/** pending → sending (leased) → delivered | dropped; sending → pending again for a retry. */
export type DeliveryState = 'pending' | 'sending' | 'delivered' | 'dropped';

/** Why a delivery whose lease ran out while being sent is dropped rather than sent again. */
export const ABANDONED =
  'the process stopped while sending; not sent again, so the channel may not have it';
