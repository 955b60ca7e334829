/** Posted once when the bot is added to a team. */
export function welcomeText(): string {
  return [
    "Hello! I'm Elevation: I make Power Platform tenant admins System Administrator in one environment, as themselves, from a personal chat with me.",
    '',
    "To get a card in a channel of this team whenever someone elevates (or fails to), one of the bot's administrators writes `@Elevation notify here` in that channel. `@Elevation notify here for production` limits it to production environments; `@Elevation notify status` tells what a channel receives, and `@Elevation notify off` stops it. Elevations are time-boxed: the channel also hears when the role is removed again, or when its removal is overdue.",
  ].join('\n');
}
