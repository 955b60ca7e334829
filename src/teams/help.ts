/** The answer to `help` (and the tail of every answer to something the bot did not understand). */
export function helpText(): string {
  return [
    'I make Power Platform tenant admins System Administrator in one environment, as themselves.',
    '',
    '- `elevate me in <environment>`: by display name, environment id, domain name or Dataverse URL',
    '- `help`: this message',
    '',
    'You confirm on a card with a justification; I then call the Power Platform API for you and show the outcome with its correlation id.',
  ].join('\n');
}
