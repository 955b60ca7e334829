/**
 * The cards the policy adds: the confirmation card naming its rule and the justification hint,
 * a policy refusal (hours, rate limit), and the channel's rate limit alert; each parsed by the
 * Adaptive Cards SDK, as Teams would, and read as a person would.
 */
import type { ElevationRequest } from '../../../src/elevation/request';
import type { Environment } from '../../../src/elevation/vocabulary';
import { rateLimitNotification } from '../../../src/elevation/notifications';
import { notificationCard, notificationSummary } from '../../../src/teams/cards/notification-card';
import { confirmationCard } from '../../../src/teams/cards/request-cards';
import { requestResultCard } from '../../../src/teams/replies';
import { cardText } from '../../support/test-bot';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

const PROD: Environment = {
  id: '1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  displayName: 'Contoso Prod',
  type: 'Production',
  dataverseUrl: 'https://contoso.crm4.dynamics.com',
};
const ALEX = { aadObjectId: 'oid-1', tenantId: 'tid-1', name: 'Alex Wilber' };

const request: ElevationRequest = {
  id: 'c5b1e1d2-0000-4000-8000-000000000001',
  state: 'requested',
  requester: ALEX,
  environment: PROD,
  query: 'contoso prod',
  createdAt: '2026-11-26T10:00:00.000Z',
  updatedAt: '2026-11-26T10:00:00.000Z',
  expiresAt: '2026-11-26T10:10:00.000Z',
  minutes: 60,
  policy: { rule: 'production', why: 'its type is Production' },
};

function parseErrors(card: object): string[] {
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  parsed.parse(card, context);
  const errors: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    if (event.phase !== undefined && event.event !== undefined)
      errors.push(`${event.event}: ${event.message}`);
  }
  return errors;
}

it('the confirmation card says which rule applies, its longest elevation, and the justification hint', () => {
  const card = confirmationCard(request, {
    justificationRequired: true,
    durations: { defaultMinutes: 60, maxMinutes: 120 },
    policy:
      "Policy: the rule 'production' applies because its type is Production; at most 2 hours.",
    justificationHint: 'Start with the ticket: INC1234 or CHG1234.',
  });
  expect(parseErrors(card)).toEqual([]);
  const text = cardText(card);
  expect(text).toContain("the rule 'production' applies because its type is Production");
  expect(text).toContain('Start with the ticket: INC1234 or CHG1234.');
  // Only the durations the rule allows are offered.
  expect(JSON.stringify(card)).not.toContain('"value":"240"');
});

it('without a policy file the confirmation card says nothing of rules', () => {
  const card = confirmationCard(request, { justificationRequired: true });
  expect(parseErrors(card)).toEqual([]);
  expect(cardText(card)).not.toMatch(/Policy|rule/);
});

it.each([
  [
    'rate-limit' as const,
    "Refused: too many elevations (rule 'production')",
    'You have had 3 elevations under the rule',
  ],
  ['outside-hours' as const, "Refused: outside the allowed hours (rule 'production')", 'Mon-Fri'],
])('a %s refusal says why, which rule and what to do', (because, title, words) => {
  const card = requestResultCard(
    {
      kind: 'policy-refused',
      because,
      environment: PROD,
      rule: 'production',
      text:
        because === 'rate-limit'
          ? "You have had 3 elevations under the rule 'production' in the last hour; it allows 3 per person per hour."
          : "Elevations under the rule 'production' are allowed Mon-Fri 08:00-18:00 Europe/Berlin; it is Sat 10:12 there.",
      nextStep: 'Ask again later.',
    },
    ALEX,
  );
  expect(parseErrors(card)).toEqual([]);
  const text = cardText(card);
  expect(text).toContain(title);
  expect(text).toContain(words);
  expect(text).toContain('What to do: Ask again later.');
});

it("the channel's rate limit alert: who, where, the rule and the count", () => {
  const notification = rateLimitNotification({
    id: 'n-1',
    at: new Date('2026-11-26T10:00:00Z'),
    requester: ALEX,
    environment: PROD,
    reason: "You have had 3 elevations under the rule 'production' in the last hour.",
    rateLimit: { rule: 'production', scope: 'user', count: 3, limit: 3, windowMinutes: 60 },
  });
  const card = notificationCard(notification);
  expect(parseErrors(card)).toEqual([]);
  const text = cardText(card);
  expect(text).toContain('Elevation refused: rate limit');
  expect(text).toContain('Alex Wilber');
  expect(text).toContain('Contoso Prod');
  expect(text).toContain('Refused: over the rate limit');
  expect(text).toContain('production');
  expect(notificationSummary(notification)).toBe(
    "Rate limit reached: Alex Wilber in Contoso Prod, 3 elevations by them in the last hour (rule 'production', at most 3)",
  );
});
