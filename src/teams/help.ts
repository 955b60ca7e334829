/** The answer to `help` (and the tail of every answer to something the bot did not understand). */
export function helpText(): string {
  return [
    'I make Power Platform tenant admins System Administrator in one environment, as themselves.',
    '',
    '- `elevate me in <environment>`: by display name, environment id, domain name or Dataverse URL',
    '- `environments [words]`: the environments you can see (those matching the words), each with a button to elevate',
    '- `history`: your own recent elevations (in our personal chat)',
    "- `audit <environment>`: recent elevations in an environment (the bot's administrators only)",
    '- `help`: this message',
    '- in a team channel, with @Elevation: `notify here` (or `notify here for production`, `notify here for <name pattern>`), `notify off`, `notify status`',
    '',
    'You confirm on a card with a justification; I then call the Power Platform API for you and show the outcome with its correlation id.',
  ].join('\n');
}

/** Posted once when the bot is added to a team. */
export function welcomeText(): string {
  return [
    "Hello! I'm Elevation: I make Power Platform tenant admins System Administrator in one environment, as themselves, from a personal chat with me.",
    '',
    "To get a card in a channel of this team whenever someone elevates (or fails to), one of the bot's administrators writes `@Elevation notify here` in that channel. `@Elevation notify here for production` limits it to production environments; `@Elevation notify status` tells what a channel receives, and `@Elevation notify off` stops it.",
  ].join('\n');
}
