/**
 * Speaks to a bot at any URL as Teams would (messages and Action.Execute invokes), with replies
 * going to a connector stub: for bots running in other processes.
 */
import { randomUUID } from 'node:crypto';

export interface ClientUser {
  aadObjectId: string;
  name: string;
  tenantId: string;
}

export interface TeamsClient {
  say(user: ClientUser, text: string): Promise<{ status: number }>;
  click(
    user: ClientUser,
    verb: string,
    data: Record<string, unknown>,
    replyToId?: string,
  ): Promise<{ status: number; body: { statusCode?: number; type?: string; value?: unknown } }>;
}

/** The fields every activity from `user` carries; a channel's team goes in channelData, as in Teams. */
export function activityFrom(
  user: ClientUser,
  connectorUrl: string,
  conversationIn: { id: string; conversationType: string; teamId?: string } = {
    id: `a:personal-${user.aadObjectId}`,
    conversationType: 'personal',
  },
): Record<string, unknown> {
  const { teamId, ...conversation } = conversationIn;
  const channelData: Record<string, unknown> = { tenant: { id: user.tenantId } };
  if (teamId) {
    channelData.team = { id: teamId, name: 'My Team' };
    if (conversation.conversationType === 'channel') {
      channelData.channel = { id: conversation.id.split(';')[0] };
    }
  }
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: connectorUrl,
    from: { id: `29:${user.aadObjectId}`, name: user.name, aadObjectId: user.aadObjectId },
    recipient: { id: '28:elevation-bot', name: 'Elevation' },
    conversation: { ...conversation, tenantId: user.tenantId },
    channelData,
    locale: 'en-US',
  };
}

export function teamsClient(botUrl: string, connectorUrl: string): TeamsClient {
  const post = async (body: unknown) => {
    const response = await fetch(`${botUrl}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  };
  return {
    async say(user, text) {
      const { status } = await post({ ...activityFrom(user, connectorUrl), type: 'message', text });
      return { status };
    },
    async click(user, verb, data, replyToId) {
      const { status, text } = await post({
        ...activityFrom(user, connectorUrl),
        type: 'invoke',
        name: 'adaptiveCard/action',
        replyToId,
        value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
      });
      return { status, body: text ? JSON.parse(text) : {} };
    },
  };
}
